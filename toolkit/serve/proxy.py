"""Forwarding one request to a worker: HTTP with streaming both ways, and WebSockets.

The app sees the real client: ``X-Forwarded-For`` gets the gateway's peer appended (the
worker turns its last entry into ``request.client``), plus ``X-Forwarded-Proto/Host``;
the original Host header is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from runtime.adapters.web_server import HOP_BY_HOP, forwarded_headers
from runtime.gateway.records import HTTPResponseRecord
from runtime.types import Message, Receive, Scope, Send
from toolkit.serve.container import WS_MAX_MESSAGE_BYTES
from toolkit.serve.upstream import UpstreamResponse
from toolkit.serve.workers import Worker

# 1009: message too big; 1011: the server hit a condition it cannot handle (RFC 6455 7.4.1)
WS_TOO_BIG, WS_INTERNAL_ERROR, WS_NORMAL = 1009, 1011, 1000
_WS_HANDSHAKE = frozenset({b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions",
                           b"sec-websocket-protocol"})


WHOLE_BODY_BYTES = 64 * 1024


class BodyTooLarge(Exception):
    def __init__(self, seen: int) -> None:
        super().__init__(seen)
        self.seen = seen


def target(scope: Scope) -> str:
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def upstream_headers(scope: Scope, worker: Worker | None = None) -> list[tuple[bytes, bytes]]:
    headers = _with_worker_auth(forwarded_headers(scope), worker)
    host = next((bytes(v) for k, v in scope.get("headers", []) if bytes(k).lower() == b"host"), None)
    return headers + [(b"host", host)] if host else headers


def _with_worker_auth(headers: list[tuple[bytes, bytes]], worker: Worker | None) -> list[tuple[bytes, bytes]]:
    """A container worker gets its session's own token pair instead of the client's (the gateway
    already checked the client's): see `toolkit.serve.containers`."""
    if worker is None or not worker.auth_headers:
        return headers
    replaced = {name for name, _ in worker.auth_headers}
    return [(k, v) for k, v in headers if bytes(k).lower() not in replaced] + list(worker.auth_headers)


@dataclass
class RequestBody:
    """The client's request body, read as the worker asks for it, counted against the limit."""

    receive: Receive
    limit: int
    seen: int = 0
    finished: bool = False

    async def first(self) -> bytes | AsyncIterator[bytes]:
        message = await self.receive()
        chunk = self._count(message)
        if self.finished:
            return chunk
        return self._rest(chunk)

    def _count(self, message: Message) -> bytes:
        if message["type"] != "http.request":
            self.finished = True
            return b""
        chunk = bytes(message.get("body", b""))
        self.seen += len(chunk)
        if self.seen > self.limit:
            raise BodyTooLarge(self.seen)
        self.finished = not message.get("more_body", False)
        return chunk

    async def _rest(self, head: bytes) -> AsyncIterator[bytes]:
        if head:
            yield head
        while not self.finished:
            chunk = self._count(await self.receive())
            if chunk:
                yield chunk


async def open_http(worker: Worker, scope: Scope, body: RequestBody) -> UpstreamResponse:
    """Send the request to the worker; returns once the response status and headers arrived."""
    return await worker.upstream.request(scope["method"], target(scope), upstream_headers(scope, worker),
                                         await body.first())


def response_headers(response: UpstreamResponse) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in response.headers if k.lower() not in HOP_BY_HOP]


async def stream_http(response: UpstreamResponse, receive: Receive, send: Send, body: RequestBody) -> None:
    """Relay the response as it arrives; stop reading the worker if the client goes away."""
    if response.length is not None and response.length <= WHOLE_BODY_BYTES:
        await _send_whole(response, send)
        return
    await send({"type": "http.response.start", "status": response.status_code, "headers": response_headers(response)})
    relay = asyncio.ensure_future(_relay(response, send))
    watcher = asyncio.ensure_future(_disconnected(receive)) if body.finished else None
    waiting = {relay} | ({watcher} if watcher else set())
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if watcher is not None:
        watcher.cancel()
    if not relay.done():
        relay.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await relay


async def _send_whole(response: UpstreamResponse, send: Send) -> None:
    # most responses are small and sized: read them whole and skip the two tasks that
    # watch a stream (a bounded body cannot keep a worker busy after the client left)
    body = await response.aread()
    await send({"type": "http.response.start", "status": response.status_code, "headers": response_headers(response)})
    await send({"type": "http.response.body", "body": body})


async def _relay(response: UpstreamResponse, send: Send) -> None:
    async for chunk in response.aiter_raw():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def collect_http(response: UpstreamResponse) -> HTTPResponseRecord:
    """The whole response, for a request that outlived the budget."""
    try:
        body = await response.aread()
    finally:
        await response.aclose()
    headers = [(k, v) for k, v in response_headers(response) if k.lower() not in (b"content-encoding",
                                                                                  b"content-length")]
    headers.append((b"content-length", str(len(body)).encode()))
    return HTTPResponseRecord(response.status_code, headers, body)


# -- WebSockets ---------------------------------------------------------------------------------
async def open_websocket(worker: Worker, scope: Scope) -> ClientConnection:
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in _with_worker_auth(forwarded_headers(scope), worker)
               if k not in _WS_HANDSHAKE]
    options: dict[str, Any] = {"additional_headers": headers, "subprotocols": scope.get("subprotocols") or None,
               "max_size": WS_MAX_MESSAGE_BYTES, "compression": None, "user_agent_header": None,
               "ping_interval": None, "open_timeout": 30, "proxy": None}
    if worker.socket_path:
        return await unix_connect(worker.socket_path, uri=f"ws://worker{target(scope)}", **options)
    return await connect(f"ws://127.0.0.1:{worker.port}{target(scope)}", **options)


async def proxy_websocket(worker: Worker, scope: Scope, receive: Receive, send: Send) -> None:
    """Accept the client once the worker accepted, then pump messages both ways until one side closes."""
    if (await receive())["type"] != "websocket.connect":
        return
    try:
        upstream = await open_websocket(worker, scope)
    except (OSError, InvalidHandshake):
        await send({"type": "websocket.close", "code": WS_INTERNAL_ERROR})  # before accept: the client gets 403
        return
    await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
    inbound = asyncio.ensure_future(_client_to_worker(receive, upstream))
    outbound = asyncio.ensure_future(_worker_to_client(upstream, send))
    await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
    for task in (inbound, outbound):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await task
    await upstream.close()


async def _client_to_worker(receive: Receive, upstream: ClientConnection) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close(code=message.get("code", WS_NORMAL))
            return
        data = message.get("text") if message.get("text") is not None else message.get("bytes")
        if data is not None:
            await upstream.send(data)


async def _worker_to_client(upstream: ClientConnection, send: Send) -> None:
    try:
        async for data in upstream:
            key = "text" if isinstance(data, str) else "bytes"
            await send({"type": "websocket.send", key: data})
    except ConnectionClosed as exc:
        await send({"type": "websocket.close", "code": _close_code(exc)})
        return
    frame = upstream.protocol.close_rcvd
    await send({"type": "websocket.close", "code": frame.code if frame else WS_NORMAL})


def _close_code(exc: ConnectionClosed) -> int:
    frame = exc.rcvd or exc.sent
    code = frame.code if frame else WS_INTERNAL_ERROR
    return WS_INTERNAL_ERROR if code in (1005, 1006, 1015) else code

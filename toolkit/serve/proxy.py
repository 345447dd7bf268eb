"""Forwarding to a worker: the request headers it gets, and WebSockets (HTTP is relayed by
`toolkit.serve.relay`).

The app sees the real client: ``X-Forwarded-For`` gets the gateway's peer appended (the
worker turns its last entry into ``request.client``), plus ``X-Forwarded-Proto/Host``;
the original Host header is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from runtime.adapters.web_server import HOP_BY_HOP, forwarded_headers
from runtime.gateway.records import HTTPResponseRecord
from runtime.types import Receive, Scope, Send
from toolkit.serve.container import WS_MAX_MESSAGE_BYTES
from toolkit.serve.workers import Worker

# 1009: message too big; 1011: the server hit a condition it cannot handle (RFC 6455 7.4.1)
WS_TOO_BIG, WS_INTERNAL_ERROR, WS_NORMAL = 1009, 1011, 1000
_WS_HANDSHAKE = frozenset({b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions",
                           b"sec-websocket-protocol"})


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


def response_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]


def whole_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> HTTPResponseRecord:
    """A whole response, for a request that outlived the budget: stored, then sent from the result
    URL with its own length.  The body is as the worker sent it, so its Content-Encoding stays."""
    kept = [(k, v) for k, v in response_headers(headers) if k.lower() != b"content-length"]
    kept.append((b"content-length", str(len(body)).encode()))
    return HTTPResponseRecord(status, kept, body)


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

"""Relay one WebSocket between an ASGI client connection and an upstream server.

The semantics ``toolkit serve`` gives WebSockets, in one place for every front end that
proxies them (the ``web_server`` adapter on the ECS/GPU HTTP entrypoint; toolkit serve's
gateway can use the same relay):

* the client is accepted only once the upstream accepted, with the subprotocol the
  upstream chose; an upstream that refuses or cannot be reached closes the client before
  accept (1011: the client sees its handshake fail);
* the request's headers go upstream minus hop-by-hop and handshake ones, with
  ``X-Forwarded-For/Proto/Host`` added by the caller (`web_server.forwarded_headers`);
* messages flow both ways, text stays text and bytes stay bytes; whichever side closes
  first, the other is closed with its code (codes that may not be sent on the wire,
  1005/1006/1015, become 1011);
* a message over `WS_MAX_MESSAGE_BYTES` (2 MiB, the platform's limit) closes with 1009:
  from upstream, through the client library's ``max_size``; from the client, through the
  server's own limit (uvicorn ``ws_max_size``, set by `runtime.server`).

Lambda cannot hold a WebSocket: its front doors deliver one request and take one response,
so the Lambda handler refuses upgrade requests instead (`runtime.gateway`, 400 naming the fix).

Front door (``runtime.FRONT_DOORS``): the SDK imports the WebSocket relay ``toolkit serve`` uses for
``web_server`` endpoints; `__all__` is what it offers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from runtime.types import Receive, Scope, Send

__all__ = [
    "HANDSHAKE_HEADERS",
    "OpenUpstream",
    "WS_MAX_MESSAGE_BYTES",
    "connect_options",
    "connect_tcp",
    "relay_websocket",
]

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

WS_MAX_MESSAGE_BYTES = 2 * 1024 * 1024
# RFC 6455 7.4.1: 1000 normal, 1009 message too big, 1011 the server hit a condition it cannot handle
WS_NORMAL, WS_TOO_BIG, WS_INTERNAL_ERROR = 1000, 1009, 1011
_NOT_ON_THE_WIRE = (1005, 1006, 1015)
HANDSHAKE_HEADERS = frozenset({b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions",
                               b"sec-websocket-protocol"})

OpenUpstream = Callable[[], Awaitable["ClientConnection"]]


def connect_options(scope: Scope, headers: Sequence[tuple[bytes, bytes]]) -> dict[str, Any]:
    """Keyword arguments for ``websockets.asyncio.client.connect``: the client's subprotocols,
    its forwarded headers (handshake ones are the library's own), the 2 MiB message limit."""
    kept = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers if k.lower() not in HANDSHAKE_HEADERS]
    return {"additional_headers": kept, "subprotocols": scope.get("subprotocols") or None,
            "max_size": WS_MAX_MESSAGE_BYTES, "compression": None, "user_agent_header": None,
            "ping_interval": None, "open_timeout": 30, "proxy": None}


async def connect_tcp(host: str, port: int, target: str, scope: Scope,
                      headers: Sequence[tuple[bytes, bytes]]) -> ClientConnection:
    from websockets.asyncio.client import connect

    return await connect(f"ws://{host}:{port}{target}", **connect_options(scope, headers))


async def relay_websocket(open_upstream: OpenUpstream, receive: Receive, send: Send) -> None:
    """Accept the client once the upstream accepted, then pump messages both ways until one side closes."""
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    if (await receive())["type"] != "websocket.connect":
        return
    try:
        upstream = await open_upstream()
    except (OSError, InvalidHandshake, asyncio.TimeoutError):
        await send({"type": "websocket.close", "code": WS_INTERNAL_ERROR})  # before accept: the handshake fails
        return
    await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
    inbound = asyncio.ensure_future(_client_to_upstream(receive, upstream))
    outbound = asyncio.ensure_future(_upstream_to_client(upstream, send))
    try:
        await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (inbound, outbound):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                await task
        await upstream.close()


async def _client_to_upstream(receive: Receive, upstream: ClientConnection) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close(code=_sendable(message.get("code", WS_NORMAL)))
            return
        data = message.get("text") if message.get("text") is not None else message.get("bytes")
        if data is not None:
            await upstream.send(data)


async def _upstream_to_client(upstream: ClientConnection, send: Send) -> None:
    from websockets.exceptions import ConnectionClosed

    try:
        async for data in upstream:
            key = "text" if isinstance(data, str) else "bytes"
            await send({"type": "websocket.send", key: data})
    except ConnectionClosed as exc:
        frame = exc.rcvd or exc.sent  # sent: our side closed it (a message over max_size: 1009)
        await _close(send, frame, WS_INTERNAL_ERROR)
        return
    await _close(send, upstream.protocol.close_rcvd, WS_NORMAL)


async def _close(send: Send, frame: Any, default: int) -> None:
    """Close the client as the upstream closed (``frame``: a websockets ``Close``, or None)."""
    code = _sendable(frame.code) if frame is not None else default
    await send({"type": "websocket.close", "code": code, "reason": frame.reason if frame is not None else ""})


def _sendable(code: int) -> int:
    return WS_INTERNAL_ERROR if code in _NOT_ON_THE_WIRE else code

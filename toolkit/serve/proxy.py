"""Forwarding to a worker: the request headers it gets, and WebSockets (HTTP is relayed by
`toolkit.serve.relay`).

The app sees the real client: ``X-Forwarded-For`` gets the gateway's peer appended (the
worker turns its last entry into ``request.client``), plus ``X-Forwarded-Proto/Host``;
the original Host header is kept.
"""

from __future__ import annotations

from websockets.asyncio.client import ClientConnection, unix_connect

from runtime.adapters.web_server import forwarded_headers, hop_by_hop, request_target
from runtime.adapters.websocket_proxy import connect_options, connect_tcp, relay_websocket
from runtime.gateway.records import HTTPResponseRecord
from runtime.types import Receive, Scope, Send
from toolkit.serve.workers import WebWorker

WS_CLOSE_TIMEOUT_S = 2.0


def upstream_headers(scope: Scope, worker: WebWorker | None = None) -> list[tuple[bytes, bytes]]:
    headers = _with_worker_auth(forwarded_headers(scope), worker)
    host = next((bytes(v) for k, v in scope.get("headers", []) if bytes(k).lower() == b"host"), None)
    return headers + [(b"host", host)] if host else headers


def _with_worker_auth(headers: list[tuple[bytes, bytes]], worker: WebWorker | None) -> list[tuple[bytes, bytes]]:
    """A container worker gets its session's own token pair instead of the client's (the gateway
    already checked the client's): see `toolkit.serve.containers`."""
    if worker is None or not worker.auth_headers:
        return headers
    replaced = {name for name, _ in worker.auth_headers}
    return [(k, v) for k, v in headers if bytes(k).lower() not in replaced] + list(worker.auth_headers)


def response_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    hop = hop_by_hop(headers)
    return [(k, v) for k, v in headers if k.lower() not in hop]


def whole_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> HTTPResponseRecord:
    """A whole response, for a request that outlived the budget: stored, then sent from the result
    URL with its own length.  The body is as the worker sent it, so its Content-Encoding stays."""
    kept = [(k, v) for k, v in response_headers(headers) if k.lower() != b"content-length"]
    kept.append((b"content-length", str(len(body)).encode()))
    return HTTPResponseRecord(status, kept, body)


# -- WebSockets ---------------------------------------------------------------------------------
async def open_websocket(worker: WebWorker, scope: Scope) -> ClientConnection:
    """The worker's side of a WebSocket: its unix socket (ASGI kinds) or its port (web_server)."""
    headers = _with_worker_auth(forwarded_headers(scope), worker)
    if worker.socket_path:
        upstream = await unix_connect(worker.socket_path, uri=f"ws://worker{request_target(scope)}",
                                      **connect_options(scope, headers))
    else:
        assert worker.port is not None
        upstream = await connect_tcp("127.0.0.1", worker.port, request_target(scope), scope, headers)
    # closing waits for the worker's close frame: a worker stuck in its handler (the reason a
    # connection reaches its timeout) must not hold the client's close back for long
    upstream.close_timeout = WS_CLOSE_TIMEOUT_S
    return upstream


async def proxy_websocket(worker: WebWorker, scope: Scope, receive: Receive, send: Send) -> None:
    """Relay a WebSocket to ``worker`` with the semantics every front end shares
    (`runtime.adapters.websocket_proxy`): accepted once the worker accepted, close codes passed
    on, 1009 for a message over 2 MiB."""
    await relay_websocket(lambda: open_websocket(worker, scope), receive, send)

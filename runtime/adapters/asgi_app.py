"""``@asgi_app`` and ``@wsgi_app``: call the user's factory once and serve what it returns.

A WSGI app learns its body's length only from ``CONTENT_LENGTH`` (PEP 3333; Flask/werkzeug
read nothing without it, or with ``Transfer-Encoding: chunked``), so a request without one (a
chunked upload, a Lambda event with no content-length header) would reach it empty, and an
app that never reads the body would answer 200 to an upload of any size.  `WholeBody` reads
such a body to its end first, through the gateway's body limit (a 413 before user code runs),
and hands it over with its real Content-Length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.adapters.base import AdapterError, WebSpec
from runtime.types import ASGIApp, Message, Receive, Scope, Send

_FRAMING = (b"content-length", b"transfer-encoding")


def _built(fn: Callable[..., Any], spec: WebSpec) -> Any:
    app = fn()
    if not callable(app):
        name = getattr(fn, "__name__", repr(fn))
        raise AdapterError(
            f"@{spec.kind.value} function {name!r} returned {app!r}; it must return the "
            f"{'ASGI' if spec.kind.value == 'asgi_app' else 'WSGI'} app object (e.g. `return web_app`)."
        )
    return app


def build_asgi_app(fn: Callable[..., Any], spec: WebSpec) -> ASGIApp:
    app: ASGIApp = _built(fn, spec)
    return app


def build_wsgi_app(fn: Callable[..., Any], spec: WebSpec) -> ASGIApp:
    from a2wsgi import WSGIMiddleware

    wrapped: ASGIApp = WSGIMiddleware(_built(fn, spec))  # type: ignore[assignment]
    return WholeBody(wrapped)


class WholeBody:
    """ASGI middleware for WSGI apps: a request without Content-Length gets its body read whole
    (the size limit is the receive's: `runtime.gateway.Gateway` raises past it) and re-sent with
    the length it turned out to have; requests that declare a length pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _declares_length(scope):
            await self.app(scope, receive, send)
            return
        body = await _whole_body(receive)
        if body is None:
            return  # the client left mid-upload: nobody to answer
        headers = [(k, v) for k, v in scope.get("headers", []) if bytes(k).lower() not in _FRAMING]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, _replay(body, receive), send)


def _declares_length(scope: Scope) -> bool:
    """True for a plain Content-Length request (uvicorn refuses one that also says chunked)."""
    names = {bytes(k).lower() for k, _ in scope.get("headers", [])}
    return b"content-length" in names and b"transfer-encoding" not in names


async def _whole_body(receive: Receive) -> bytes | None:
    """The request body to its end; None if the client disconnected first."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        parts.append(bytes(message.get("body", b"")))
        if not message.get("more_body"):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body as one message, then the server's own receive (for ``http.disconnect``)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay

"""``@asgi_app`` and ``@wsgi_app``: call the user's factory once and serve what it returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.adapters.base import AdapterError, WebSpec
from runtime.types import ASGIApp


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
    return wrapped

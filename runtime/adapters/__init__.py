"""Adapters, one per web kind, behind one interface: ``build_web_app(fn, spec) -> ASGI app``.

* `fastapi_endpoint` -- the function becomes ``/`` of a FastAPI app (``docs=True`` adds /docs).
* `asgi_app`         -- ``asgi_app`` calls the factory once; ``wsgi_app`` wraps its result in a2wsgi.
* `web_server`       -- starts the user's server once, waits for its port, proxies with httpx.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.adapters.asgi_app import build_asgi_app, build_wsgi_app
from runtime.adapters.base import Adapter, AdapterError, WebKind, WebSpec
from runtime.adapters.fastapi_endpoint import build_fastapi_endpoint
from runtime.adapters.web_server import WebServerProxy, WebServerStartupError, build_web_server, wait_for_port
from runtime.types import ASGIApp

ADAPTERS: dict[WebKind, Adapter] = {
    WebKind.FASTAPI_ENDPOINT: build_fastapi_endpoint,
    WebKind.ASGI_APP: build_asgi_app,
    WebKind.WSGI_APP: build_wsgi_app,
    WebKind.WEB_SERVER: build_web_server,
}


def build_web_app(fn: Callable[..., Any], spec: WebSpec) -> ASGIApp:
    """The ASGI app serving web function ``fn`` (the user's undecorated callable)."""
    return ADAPTERS[spec.kind](fn, spec)


__all__ = [
    "ADAPTERS",
    "Adapter",
    "AdapterError",
    "WebKind",
    "WebServerProxy",
    "WebServerStartupError",
    "WebSpec",
    "build_web_app",
    "wait_for_port",
]

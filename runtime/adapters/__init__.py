"""Adapters, one per web kind, behind one interface: ``build_web_app(fn, spec) -> ASGI app``.

* `fastapi_endpoint` -- the function becomes ``/`` of a FastAPI app (``docs=True`` adds /docs).
* `asgi_app`         -- ``asgi_app`` calls the factory once; ``wsgi_app`` wraps its result in a2wsgi.
* `web_server`       -- starts the user's server once, waits for its port, proxies with httpx.

An environment serves one kind, so each adapter module is imported only when its kind is
built: httpx (with the click/rich/pygments its package pulls in) costs a FastAPI endpoint's
cold start about 90 ms otherwise (bench/bench_runtime.py, ``python -X importtime``).

Front door (``runtime.FRONT_DOORS``): the SDK imports `build_web_app` and `WebSpec`: ``toolkit
serve``'s workers build the same web apps; `__all__` is what it offers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runtime.adapters.base import Adapter, AdapterError, WebKind, WebSpec
from runtime.types import ASGIApp

if TYPE_CHECKING:
    from runtime.adapters.web_server import WebServerProxy, WebServerStartupError, wait_for_port

# kind -> (module, builder): resolved on first use
_BUILDERS: dict[WebKind, tuple[str, str]] = {
    WebKind.FASTAPI_ENDPOINT: ("runtime.adapters.fastapi_endpoint", "build_fastapi_endpoint"),
    WebKind.ASGI_APP: ("runtime.adapters.asgi_app", "build_asgi_app"),
    WebKind.WSGI_APP: ("runtime.adapters.asgi_app", "build_wsgi_app"),
    WebKind.WEB_SERVER: ("runtime.adapters.web_server", "build_web_server"),
}
_WEB_SERVER_NAMES = ("WebServerProxy", "WebServerStartupError", "wait_for_port")


def adapter(kind: WebKind) -> Adapter:
    module, name = _BUILDERS[kind]
    builder: Adapter = getattr(importlib.import_module(module), name)
    return builder


def build_web_app(fn: Callable[..., Any], spec: WebSpec) -> ASGIApp:
    """The ASGI app serving web function ``fn`` (the user's undecorated callable)."""
    return adapter(spec.kind)(fn, spec)


def __getattr__(name: str) -> Any:
    if name == "ADAPTERS":
        return {kind: adapter(kind) for kind in _BUILDERS}
    if name in _WEB_SERVER_NAMES:
        return getattr(importlib.import_module("runtime.adapters.web_server"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ADAPTERS",
    "Adapter",
    "adapter",
    "AdapterError",
    "WebKind",
    "WebServerProxy",
    "WebServerStartupError",
    "WebSpec",
    "build_web_app",
    "wait_for_port",
]

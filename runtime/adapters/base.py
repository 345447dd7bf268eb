"""One small interface for every web kind: user function + its web spec -> an ASGI app.

Adapters know nothing about Lambda, ECS or ``toolkit serve``; each front end wraps the
ASGI app they return (in `Gateway`, then Mangum or uvicorn).

Front door (``runtime.FRONT_DOORS``): the SDK imports `WebSpec`, `WebKind` and `AdapterError`;
`__all__` is what it offers.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from runtime.types import ASGIApp

__all__ = ["Adapter", "AdapterError", "DEFAULT_STARTUP_TIMEOUT_S", "WebKind", "WebSpec"]

if TYPE_CHECKING:
    from runtime.manifest import FunctionEntry

DEFAULT_STARTUP_TIMEOUT_S = 5.0


class WebKind(str, enum.Enum):
    FASTAPI_ENDPOINT = "fastapi_endpoint"
    ASGI_APP = "asgi_app"
    WSGI_APP = "wsgi_app"
    WEB_SERVER = "web_server"


class WebSpec(NamedTuple):
    """What an adapter needs from a manifest function entry (see docs/manifest.md).
    A NamedTuple: as immutable as a frozen dataclass, cheaper for every cold start to define."""

    kind: WebKind
    method: str = "GET"
    docs: bool = False
    port: int | None = None
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S

    @classmethod
    def from_manifest(cls, function: FunctionEntry) -> WebSpec:
        """The spec of a web function (`runtime.manifest.load` parsed and checked the entry)."""
        web = function.web
        if web is None:
            return cls(kind=WebKind(function.kind))
        return cls(
            kind=WebKind(function.kind),
            method=(web.method or "GET").upper(),
            docs=web.docs,
            port=web.port,
            startup_timeout=float(web.startup_timeout or DEFAULT_STARTUP_TIMEOUT_S),
        )


class AdapterError(Exception):
    """The user's web function did not produce something servable; the message says how to fix it."""


class Adapter(Protocol):
    def __call__(self, fn: Callable[..., Any], spec: WebSpec) -> ASGIApp: ...

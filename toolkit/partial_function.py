"""The platform's ``modal.partial_function`` path: the method and web decorators (`toolkit.partial`),
plus ``web_endpoint``, the platform's old name for ``fastapi_endpoint``."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from toolkit.partial import (
    PartialFunction,
    asgi_app,
    batched,
    concurrent,
    enter,
    exit,
    fastapi_endpoint,
    method,
    web_server,
    wsgi_app,
)
from toolkit.platform_only import clustered, sessioned


def web_endpoint(*args: Any, **kwargs: Any) -> Callable[[Any], PartialFunction]:
    """Deprecated: ``@toolkit.fastapi_endpoint(...)`` under its old name, with the same options.

    The hosted platform renamed it (and now refuses the old name); toolkit keeps it working with a
    `DeprecationWarning` so older programs still serve while they are updated."""
    warnings.warn("@toolkit.web_endpoint has been renamed to @toolkit.fastapi_endpoint; it takes the same "
                  "options (method=, label=, docs=, custom_domains=, requires_proxy_auth=).",
                  DeprecationWarning, stacklevel=2)
    return fastapi_endpoint(*args, **kwargs)


__all__ = ["asgi_app", "batched", "clustered", "concurrent", "enter", "exit", "fastapi_endpoint", "method",
           "sessioned", "web_endpoint", "web_server", "wsgi_app"]

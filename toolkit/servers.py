"""``@app.server``: a class whose ``@toolkit.enter()`` method starts an HTTP server (the platform's
Servers), expressed with what toolkit already serves: an ``@app.cls`` with one
``@toolkit.web_server(port)`` method named ``serve`` whose body does nothing, because by the time
it is called the class's ``@enter`` hooks have started the server.  So a server is served, proxied,
authenticated and deployed (ECS behind the app's front door) exactly like a web_server.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from toolkit.exception import InvalidError, NotSupportedError, NotSupportedWarning
from toolkit.partial import PartialFunction, concurrent, web_server

SERVE = "serve"  # the method name, hence the default label <app>-<class>-serve
DEFAULT_MAX_CONCURRENCY = 100  # the platform's default is "unlimited"; a toolkit worker needs a bound


def check_server_options(*, name: str | None, h2_enabled: bool, exit_grace_period: int,
                         scaleup_window: int | None) -> None:
    if name is not None:
        raise NotSupportedError(f"@app.server(name={name!r}) is not supported by toolkit: a server is named by "
                                "its class. Instead, rename the class.")
    no_effect = {"h2_enabled": h2_enabled, "exit_grace_period": exit_grace_period, "scaleup_window": scaleup_window}
    for option, value in no_effect.items():
        if value:
            warnings.warn(f"@app.server({option}={value!r}) has no effect on toolkit: its servers are proxied "
                          "over HTTP/1.1 and scaled by the backend.", NotSupportedWarning, stacklevel=3)


def as_server_class(user_cls: Any, *, port: int, startup_timeout: float, requires_proxy_auth: bool,
                    max_inputs: int | None, target_inputs: float | None) -> Any:
    """``user_cls`` with its ``serve`` web_server method added, ready for ``@app.cls``."""
    if not isinstance(user_cls, type):
        raise InvalidError(f"@app.server() decorates a class whose @toolkit.enter() method starts the server; "
                           f"got {user_cls!r}.")
    members = {k: v for k, v in vars(user_cls).items() if isinstance(v, PartialFunction)}
    exposed = sorted(k for k, v in members.items() if v.web is not None or "method" in v.flags)
    if exposed:
        raise InvalidError(f"@app.server class {user_cls.__name__!r} exposes {', '.join(exposed)}; a server serves "
                           "only the HTTP server its @toolkit.enter() method starts: move those to an @app.cls.")
    if not any("enter" in v.flags for v in members.values()):
        raise InvalidError(f"@app.server class {user_cls.__name__!r} has no @toolkit.enter() method; start the "
                           f"HTTP server on port {port} in one (in a thread: @enter must return).")
    if SERVE in vars(user_cls):
        raise InvalidError(f"@app.server class {user_cls.__name__!r} defines {SERVE!r}, the name toolkit gives "
                           "its web_server method; rename that attribute.")
    setattr(user_cls, SERVE, web_server(port, startup_timeout=startup_timeout,
                                        requires_proxy_auth=requires_proxy_auth)(_serve_method(user_cls)))
    declared = getattr(user_cls, "__toolkit_concurrent__", None)  # the class's own @toolkit.concurrent wins
    if max_inputs is None and declared is not None:
        if declared[0] is not None:
            return user_cls
        target_inputs = declared[1]  # target_inputs alone (the platform's flash servers): no hard cap there
    limit = max_inputs or max(DEFAULT_MAX_CONCURRENCY, math.ceil(target_inputs or 1))
    target = None if target_inputs is None else min(limit, max(1, math.ceil(target_inputs)))
    return concurrent(max_inputs=limit, target_inputs=target)(user_cls)


def _serve_method(user_cls: type) -> Any:
    def serve(self: Any) -> None:
        """The server is already listening: the class's @enter started it."""

    # Named as if written in the class, so workers import the user's module (not this one) to find it.
    serve.__module__ = user_cls.__module__
    serve.__qualname__ = f"{user_cls.__qualname__}.{SERVE}"
    return serve


def http_server_class(user_cls: Any, *, port: int | None, startup_timeout: float, proxy_regions: Any,
                      exit_grace_period: int | None, h2_enabled: bool) -> Any:
    """``toolkit.experimental.http_server``: the class becomes a server as with ``@app.server``, under the
    ``@app.cls`` it sits below.  Public, as a ``web_server`` is (the platform's flash servers take no proxy
    auth); regions and HTTP/2 have no counterpart and warn."""
    if port is None or isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidError(f"toolkit.experimental.http_server(port={port!r}): give the port the @toolkit.enter() "
                           "method's server listens on, e.g. http_server(port=8000).")
    for option, value in {"proxy_regions": proxy_regions, "h2_enabled": h2_enabled,
                          "exit_grace_period": exit_grace_period}.items():
        if value:
            warnings.warn(f"toolkit.experimental.http_server({option}={value!r}) has no effect on toolkit: the "
                          "server is proxied over HTTP/1.1 from the app's own front door.", NotSupportedWarning,
                          stacklevel=3)
    return as_server_class(user_cls, port=port, startup_timeout=startup_timeout, requires_proxy_auth=False,
                           max_inputs=None, target_inputs=None)

"""The platform's ``modal.experimental``: its experimental helpers.

What toolkit has is re-exported; the rest refuses when used (`toolkit.unsupported`), naming what to use.
"""

# mypy: disable-error-code="empty-body"
# (refusals keep the platform's signatures; `toolkit.unsupported.not_supported` replaces their bodies)

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from toolkit.platform_only import clustered
from toolkit.unsupported import not_supported, refusing_module_getattr


def http_server(port: int | None = None, *, proxy_regions: list[str] | None = None, startup_timeout: int = 30,
                exit_grace_period: int | None = None, h2_enabled: bool = False) -> Callable[[type], type]:
    """Below ``@app.cls(...)``: the class's ``@toolkit.enter()`` method starts an HTTP server on ``port``,
    and toolkit serves it as ``@app.server`` does (a ``web_server`` method ``serve``, label
    ``<app>-<class>-serve``; locally through ``toolkit serve``, deployed on ECS behind the app's front
    door).  Public like a web_server; ``proxy_regions``/``h2_enabled``/``exit_grace_period`` warn."""
    from toolkit.servers import http_server_class

    def wrapper(user_cls: type) -> type:
        made: type = http_server_class(user_cls, port=port, startup_timeout=startup_timeout,
                                       proxy_regions=proxy_regions, exit_grace_period=exit_grace_period,
                                       h2_enabled=h2_enabled)
        return made

    return wrapper


@not_supported("toolkit.experimental.stop_fetching_inputs", "toolkit's local workers and Lambda "
               "containers are retired by toolkit, not by the function", "use max_inputs= on "
               "@app.function to retire a container after N inputs")
def stop_fetching_inputs() -> NoReturn: ...


__getattr__ = refusing_module_getattr(
    "toolkit.experimental", "toolkit has no counterpart of this experimental platform helper",
    "see docs/parity.md for what toolkit offers")

__all__ = ["clustered", "http_server", "stop_fetching_inputs"]

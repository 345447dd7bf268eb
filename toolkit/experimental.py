"""The platform's ``modal.experimental``: its experimental helpers.

What toolkit has is re-exported; the rest refuses when used (`toolkit.unsupported`), naming what to use.
"""

# mypy: disable-error-code="empty-body"
# (refusals keep the platform's signatures; `toolkit.unsupported.not_supported` replaces their bodies)

from __future__ import annotations

from typing import Any, NoReturn

from toolkit.platform_only import clustered
from toolkit.unsupported import not_supported, refusing_module_getattr


@not_supported("toolkit.experimental.http_server", "toolkit has no flash servers",
               "use @app.server(port=...) on a class whose @toolkit.enter() method starts the server")
def http_server(port: int | None = None, *, proxy_regions: list[str] | None = None, startup_timeout: int = 30,
                exit_grace_period: int | None = None, h2_enabled: bool = False, **kwargs: Any) -> NoReturn: ...


@not_supported("toolkit.experimental.stop_fetching_inputs", "toolkit's local workers and Lambda "
               "containers are retired by toolkit, not by the function", "use max_inputs= on "
               "@app.function to retire a container after N inputs")
def stop_fetching_inputs() -> NoReturn: ...


__getattr__ = refusing_module_getattr(
    "toolkit.experimental", "toolkit has no counterpart of this experimental platform helper",
    "see docs/parity.md for what toolkit offers")

__all__ = ["clustered", "http_server", "stop_fetching_inputs"]

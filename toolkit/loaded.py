"""The apps loaded in this process, by name: what ``Function.from_name`` and local workers search.

Kept apart from `toolkit.app` so that the handles an app creates (`toolkit.functions`) can find
apps without importing the module that defines them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol


class LoadedApp(Protocol):
    @property
    def name(self) -> str | None: ...

    @property
    def registered_functions(self) -> Mapping[str, Any]: ...


_APPS: weakref.WeakSet[Any] = weakref.WeakSet()


def remember(app: LoadedApp) -> None:
    _APPS.add(app)


def loaded_apps() -> list[LoadedApp]:
    return list(_APPS)


# How an app called by name is found beyond this process (a running `toolkit serve` of it):
# installed by `toolkit.lookup`, which `import toolkit` loads; kept here so that the handles that
# look apps up (`Function.from_name`, `Cls.from_name`, `App.lookup`) need not import the loader.
_finder: list[Callable[[str, str | None], Any]] = []


def install_finder(finder: Callable[[str, str | None], Any]) -> None:
    _finder[:] = [finder]


def find_by_name(app_name: str, environment_name: str | None = None) -> Any:
    """The App called ``app_name`` (`toolkit.lookup.find_app`); raises `NotFoundError` naming what it searched."""
    assert _finder, "toolkit.lookup installs the finder when the toolkit package is imported"
    return _finder[0](app_name, environment_name)


_origins: dict[str, str] = {}  # app name -> origin of the serve `toolkit.lookup` found it in


def remember_origin(app_name: str, origin: str) -> None:
    _origins[app_name] = origin


def served_origin(app_name: str) -> str | None:
    """The origin (``http://localhost:PORT``) of the serve this process looked ``app_name`` up in, if any."""
    return _origins.get(app_name)

"""The apps loaded in this process, by name: what ``Function.from_name`` and local workers search.

Kept apart from `toolkit.app` so that the handles an app creates (`toolkit.functions`) can find
apps without importing the module that defines them.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
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

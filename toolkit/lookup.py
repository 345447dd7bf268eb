"""Finding an app by name from another process: ``Function.from_name``, ``Cls.from_name``, ``App.lookup``.

Searched in order:

1. the apps loaded in this process (`toolkit.loaded`);
2. a running ``toolkit serve`` of that app on this machine: the serve registry
   (`toolkit.serve.registry`) records what each serve loaded, and the newest live serve of the
   app wins.  Its source is imported here, so ``.remote``/``.spawn``/``.map`` run in local
   workers of this process, with the machine's call store: ``FunctionCall.from_id`` works
   across the two processes, and ``get_web_url()`` names the serve's URL.

A deployed app (the stack's outputs) is not searched yet: the error says so.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from toolkit.exception import NotFoundError
from toolkit.loaded import install_finder, loaded_apps, remember_origin

if TYPE_CHECKING:
    from toolkit.app import App
    from toolkit.serve.registry import ServeRecord


def find_app(app_name: str) -> App:
    """The App called ``app_name``: loaded here, else loaded from a running ``toolkit serve`` of it."""
    found = _loaded(app_name)
    if found is not None:
        return found
    record = newest_serve_of(app_name)
    if record is None:
        raise NotFoundError(_not_found(app_name))
    return _load_served(record, app_name)


def _loaded(app_name: str) -> App | None:
    found: App | None = next((a for a in loaded_apps() if a.name == app_name), None)  # type: ignore[assignment]
    return found


def newest_serve_of(app_name: str) -> ServeRecord | None:
    from toolkit.serve.registry import ServeRegistry

    serves = [r for r in ServeRegistry().read().records if r.app == app_name and r.source and r.process.alive()]
    return max(serves, key=lambda r: r.seq, default=None)


def _load_served(record: ServeRecord, app_name: str) -> App:
    from toolkit.loader import AppRef, load_module

    if record.cwd and record.cwd not in sys.path:
        sys.path.append(record.cwd)  # a module target is imported as the serve imported it
    load_module(AppRef.parse(record.source, is_module=record.is_module))
    found = _loaded(app_name)
    remember_origin(app_name, record.origin)  # its endpoints' URLs are that serve's
    if found is None:
        raise NotFoundError(f"toolkit serve (pid {record.process.pid}) serves {app_name!r} from {record.source}, "
                            f"but importing it here defines no App called {app_name!r}; has the file changed?")
    return found


def _not_found(app_name: str) -> str:
    from toolkit.config import home
    from toolkit.serve.registry import ServeRegistry

    registry = ServeRegistry()
    running = sorted({r.app for r in registry.read().records if r.process.alive()})
    return (f"No app named {app_name!r}: it is not loaded in this process, and no running `toolkit serve` "
            f"of it is recorded in {registry.path} (serving now: {', '.join(running) or 'none'}; "
            f"TOOLKIT_HOME={home()}). Start `toolkit serve <file>.py` for it, or import its module first. "
            "Looking up deployed apps is not supported yet.")


install_finder(find_app)

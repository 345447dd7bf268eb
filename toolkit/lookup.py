"""Finding an app by name from another process: ``Function.from_name``, ``Cls.from_name``, ``App.lookup``.

Searched in order:

1. the apps loaded in this process (`toolkit.loaded`);
2. a running ``toolkit serve`` of that app on this machine: the serve registry
   (`toolkit.serve.registry`) records what each serve loaded, and the newest live serve of the
   app wins.  Its source is imported here, so ``.remote``/``.spawn``/``.map`` run in local
   workers of this process, with the machine's call store: ``FunctionCall.from_id`` works
   across the two processes, and ``get_web_url()`` names the serve's URL;
3. the app deployed in the configured AWS region and environment (`toolkit.deployed_apps`): its
   call map in SSM, written by ``toolkit deploy``; calls go to AWS.

``TOOLKIT_LOOKUP`` narrows the search: ``deployed`` skips 1 and 2 (reach the deployed app while a
local serve of it runs, or from a script that imports the app's module), ``local`` skips 3 (never
touch AWS); unset or ``auto``: all three, in order.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from toolkit.exception import NotFoundError
from toolkit.loaded import install_finder, loaded_apps, remember_origin
from toolkit.lookup_scope import LOOKUP_ENV, lookup_mode

if TYPE_CHECKING:
    from toolkit.app import App
    from toolkit.serve.registry import ServeRecord

def find_app(app_name: str, environment_name: str | None = None) -> App:
    """The App called ``app_name``: loaded here, else loaded from a running ``toolkit serve`` of it, else
    the deployed one (``environment_name``: its toolkit environment; default the configured one)."""
    mode = lookup_mode()
    searched: list[str] = []
    if mode != "deployed":
        found = _loaded(app_name) or _served(app_name)
        if found is not None:
            return found
        searched.append(_not_local(app_name))
    if mode != "local":
        from toolkit.deployed_apps import find_deployed

        deployed, search = find_deployed(app_name, environment_name)
        if deployed is not None:
            return deployed
        searched.append(search.describe())
    raise NotFoundError(f"No app named {app_name!r}: " + "; ".join(searched) + ". " + _fix(app_name, mode))


def _served(app_name: str) -> App | None:
    record = newest_serve_of(app_name)
    return None if record is None else _load_served(record, app_name)


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


def _not_local(app_name: str) -> str:
    from toolkit.config import home
    from toolkit.serve.registry import ServeRegistry

    registry = ServeRegistry()
    running = sorted({r.app for r in registry.read().records if r.process.alive()})
    return (f"it is not loaded in this process, and no running `toolkit serve` of it is recorded in "
            f"{registry.path} (serving now: {', '.join(running) or 'none'}; TOOLKIT_HOME={home()})")


def _fix(app_name: str, mode: str) -> str:
    local = "start `toolkit serve <file>.py` for it, or import its module first"
    deployed = (f"deploy it (`toolkit deploy <file>.py`), or point AWS_REGION / environment_name= "
                f"(TOOLKIT_ENVIRONMENT) at where {app_name!r} is deployed")
    fixes = {"auto": f"To call it locally, {local}; to call it on AWS, {deployed}.",
             "local": f"{LOOKUP_ENV}=local: {local} (or unset {LOOKUP_ENV} to search AWS too).",
             "deployed": f"{LOOKUP_ENV}=deployed: {deployed} (or unset {LOOKUP_ENV} to search locally too)."}
    return fixes[mode]


install_finder(find_app)

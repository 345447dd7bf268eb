"""The app's source as it last loaded: what `toolkit serve`'s workers import, even after a broken edit.

Why: serve reloads when a file changes, and keeps serving when the new version does not load.
Workers already running still hold the old code, but a worker that starts later (a cold
endpoint, a scale-up, a ``.spawn``'s function worker) would import the files as they are now,
and fail.  So after each successful load serve records the bytes of every module of the app's
own tree that the load imported (`SourceSnapshot.take`) in one file named by ``TOOLKIT_SERVE_LAST_GOOD``
(`SourceSnapshot.write`, replaced atomically), and each worker it starts imports those modules from
the record instead of the disk (`install_from_environ`): every worker runs the version serve
announced, until the next version loads.

Only the import changes: ``__file__`` and ``__path__`` stay the real paths (data files next to
the code are still found), tracebacks show the recorded lines, and no bytecode cache is read or
written for them (it would describe the file on disk).  A module the app imports only later (inside
a function) was not imported by the load, is not recorded, and loads from the disk.

Standard library only: the worker imports this before the user's code, on every start.
"""

from __future__ import annotations

import base64
import importlib.abc
import importlib.machinery
import importlib.util
import json
import linecache
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

SNAPSHOT_ENV = "TOOLKIT_SERVE_LAST_GOOD"  # the snapshot file serve keeps current; set for its workers


@dataclass(frozen=True)
class RecordedModule:
    path: str  # the real path it was loaded from
    source: bytes


@dataclass(frozen=True)
class SourceSnapshot:
    app_name: str  # the app it records: a worker of another app (a `toolkit run` the app started) ignores it
    modules: dict[str, RecordedModule]  # by module name
    loaded_at: float  # time.time() of the load it records

    @staticmethod
    def take(app_name: str, modules: Mapping[str, str]) -> SourceSnapshot:
        """Read the source of ``modules`` (name -> path) now; files that vanished or are not Python are left out."""
        recorded = {}
        for name, path in modules.items():
            if not path.endswith(".py"):
                continue  # a compiled extension: imported from the disk as always
            try:
                recorded[name] = RecordedModule(os.path.realpath(path), Path(path).read_bytes())
            except OSError:
                continue
        return SourceSnapshot(app_name, recorded, time.time())

    def write(self, path: Path) -> None:
        """Replace the snapshot at ``path`` in one step: a worker reading it sees the old one or the new one."""
        data = {"app_name": self.app_name, "loaded_at": self.loaded_at,
                "modules": {name: {"path": m.path, "source": base64.b64encode(m.source).decode()}
                            for name, m in self.modules.items()}}
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(data))
        os.replace(partial, path)

    @staticmethod
    def read(path: Path) -> SourceSnapshot | None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        modules = {name: RecordedModule(m["path"], base64.b64decode(m["source"])) for name, m in data["modules"].items()}
        return SourceSnapshot(str(data["app_name"]), modules, float(data["loaded_at"]))


class RecordedLoader(importlib.machinery.SourceFileLoader):
    """Loads one module from its recorded source, as if it came from its real path."""

    def __init__(self, fullname: str, module: RecordedModule) -> None:
        super().__init__(fullname, module.path)
        self.source = module.source

    def get_data(self, path: str) -> bytes:
        if path == self.path:
            return self.source
        return super().get_data(path)

    def path_stats(self, path: str) -> Mapping[str, float]:
        # No stats: a cached .pyc describes the file on disk, not the recorded source, so none is
        # read; and without a source mtime `get_code` never writes one of the recorded source.
        raise OSError(f"{path} is imported from the last version that loaded")


class RecordedFinder(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``: the recorded modules, by name, before anything on the disk."""

    def __init__(self, snapshot: SourceSnapshot) -> None:
        self.snapshot = snapshot

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        module = self.snapshot.modules.get(fullname)
        if module is None:
            return None
        return importlib.util.spec_from_file_location(fullname, module.path, loader=RecordedLoader(fullname, module))


_installed: SourceSnapshot | None = None


def install_from_environ(app_name: str, environ: Mapping[str, str] = os.environ) -> SourceSnapshot | None:
    """In a worker of ``app_name`` serve started: import the app's modules from the snapshot from now
    on (no-op elsewhere, and for another app's workers: they inherit the variable, not the app)."""
    global _installed
    where = environ.get(SNAPSHOT_ENV)
    if not where or _installed is not None:
        return _installed
    snapshot = SourceSnapshot.read(Path(where))
    if snapshot is None or snapshot.app_name != (app_name or ""):
        return None
    _installed = snapshot
    sys.meta_path.insert(0, RecordedFinder(snapshot))
    for module in snapshot.modules.values():  # tracebacks quote the lines that run, not the file's
        lines = module.source.decode("utf-8", "replace").splitlines(keepends=True)
        linecache.cache[module.path] = (len(module.source), None, lines, module.path)
    return snapshot


def loader_for(name: str, path: str | os.PathLike[str]) -> importlib.abc.Loader | None:
    """The loader for the app file a worker imports by path (`toolkit.loader.import_path`): the
    recorded one when a snapshot is installed and records this file under this name, else None."""
    module = _installed.modules.get(name) if _installed is not None else None
    if module is None or module.path != os.path.realpath(path):
        return None
    return RecordedLoader(name, module)

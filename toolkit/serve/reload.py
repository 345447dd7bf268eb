"""Live reload: report changes to the app's own source files (not toolkit's, not site-packages), and
record each version that loads, so that every worker serve starts runs it (`ServedVersion`)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path

from watchfiles import awatch

from toolkit.last_good import SNAPSHOT_ENV, SourceSnapshot

DEBOUNCE_MS = 150


async def watch_app_files(current: Callable[[], Iterable[str]]) -> AsyncIterator[list[str]]:
    """Yield the changed files each time some of ``current()`` change (the set may grow after a reload)."""
    files = set(current())
    roots = sorted({os.path.dirname(path) for path in files})
    if not roots:
        return

    def relevant(_change: object, path: str) -> bool:
        return os.path.abspath(path) in set(current()) or os.path.abspath(path) in files

    async for changes in awatch(*roots, watch_filter=relevant, debounce=DEBOUNCE_MS, step=50, recursive=False):
        yield sorted({os.path.relpath(path) for _change, path in changes})


class ServedVersion:
    """The version of the app this serve serves, recorded after each load for the workers it starts
    (`toolkit.last_good`): a worker that starts after a broken edit still runs the version that loaded."""

    def __init__(self, home: Path) -> None:
        self.path = home / "serve" / f"last-good-{os.getpid()}.json"
        self.loaded_at: float | None = None

    def activate(self) -> None:
        """Point the workers this process starts (they inherit its environment) at the record, and
        remove the records of serves that were killed before they could (their pid is gone)."""
        os.environ[SNAPSHOT_ENV] = str(self.path)
        for stale in self.path.parent.glob("last-good-*.json"):
            pid = stale.stem.removeprefix("last-good-")
            if pid.isdigit() and not _running(int(pid)):
                with contextlib.suppress(OSError):
                    stale.unlink()

    def record(self, app_name: str, modules: Mapping[str, str]) -> None:
        """``modules`` (name -> file) of ``app_name`` just loaded: workers started from now on import these bytes."""
        snapshot = SourceSnapshot.take(app_name or "", modules)
        snapshot.write(self.path)
        self.loaded_at = snapshot.loaded_at

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()

    def still_serving(self) -> str:
        """What a failed reload leaves in place, in one line."""
        when = time.strftime(" (loaded at %H:%M:%S)", time.localtime(self.loaded_at)) if self.loaded_at else ""
        return (f"Still serving the last version that loaded{when} on every endpoint: running workers keep it and "
                "new ones start from it, until the files load again.")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True

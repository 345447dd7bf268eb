"""Live reload: report changes to the app's own source files (not toolkit's, not site-packages)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable

from watchfiles import awatch

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

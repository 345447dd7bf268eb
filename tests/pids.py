"""Process liveness for tests: the one home of `alive` (every test directory imports it from here).

A top-level module of its own, like loopback.py: tests/ is on sys.path for every test directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether ``pid`` is running: a zombie (exited, not yet reaped by its parent) counts as ended,
    though ``os.kill(pid, 0)`` still succeeds for it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]  # after "(comm)", which may hold spaces
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


__all__ = ["alive"]

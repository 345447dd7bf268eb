"""Processes on this machine told apart by pid *and* start time, so that a pid the kernel
reused is never taken for the process that had it before (call owners, serve registry)."""

from __future__ import annotations

import subprocess
import sys


def stat_fields(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (index 0 is the state, 19 the
    start time in clock ticks since boot); None where it cannot be read (no such process, no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # the command name (field 2) may hold spaces and parentheses: count fields after the last ')'
            return stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_in(fields: list[bytes] | None) -> str | None:
    """The start time among `stat_fields`, as text."""
    return fields[19].decode() if fields is not None and len(fields) > 19 else None


def process_start(pid: int, fields: list[bytes] | None = None) -> str | None:
    """The process's start time as the kernel reports it (Linux: clock ticks since boot; else ``ps``).
    ``fields``: its `stat_fields` when the caller read them already."""
    if sys.platform.startswith("linux"):
        return start_in(fields if fields is not None else stat_fields(pid))
    return _ps_start(pid)


def _ps_start(pid: int) -> str | None:
    try:
        out = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None

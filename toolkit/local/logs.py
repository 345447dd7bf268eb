"""What a local pool's workers printed, kept so that ``Function.logs`` / ``FunctionCall.logs`` can read it.

A worker's ``print`` still reaches the terminal as before; each complete line is also sent to the
pool (`toolkit.local.worker`), tagged with the call it was printed for, and kept here in a bounded
ring (the newest `MAX_LINES`).  Only Python-level writes to ``sys.stdout``/``sys.stderr`` are seen:
output a subprocess or C code writes straight to the file descriptor reaches the terminal only.

`LogsView` is the platform's logs manager shape (``fetch`` / ``tail`` / ``stream``) over a ring.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

MAX_LINES = 10_000


@dataclass(frozen=True)
class LogEntry:
    """One line a function printed (the platform's ``LogEntry`` fields)."""

    message: str
    timestamp: datetime
    source: str  # "stdout" or "stderr"
    object_id: str  # the function call it was printed for ("" outside a call: @enter hooks, imports)
    context_ids: list[str] = field(default_factory=list)  # [call id, worker pid as "pid-<n>"]


class LogBuffer:
    """The newest lines of one pool, in arrival order; ``wait_for`` lets a follower sleep until more come."""

    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self._lines: collections.deque[tuple[int, LogEntry]] = collections.deque(maxlen=max_lines)
        self._count = 0
        self._changed = threading.Condition()

    def add(self, message: str, source: str, call_id: str | None, pid: int) -> None:
        entry = LogEntry(message, datetime.now(timezone.utc), source, call_id or "",
                         [c for c in (call_id, f"pid-{pid}") if c])
        with self._changed:
            self._count += 1
            self._lines.append((self._count, entry))
            self._changed.notify_all()

    def since(self, seen: int) -> tuple[int, list[LogEntry]]:
        """Lines after sequence number ``seen``, and the newest sequence number."""
        with self._changed:
            return self._count, [entry for n, entry in self._lines if n > seen]

    def wait_for(self, seen: int, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._count > seen, timeout)


Source = Callable[[], list[LogBuffer]]


class LogsView:
    """``fn.logs`` / ``call.logs``: the lines the local pools of this process captured, optionally only
    those printed for one call.  ``tail``/``fetch`` return lists; ``stream`` follows new lines."""

    def __init__(self, buffers: Source, call_id: str | None = None) -> None:
        self._buffers, self._call_id = buffers, call_id

    def _entries(self) -> list[LogEntry]:
        entries = [e for buffer in self._buffers() for e in buffer.since(0)[1] if self._wanted(e)]
        return sorted(entries, key=lambda e: e.timestamp)

    def _wanted(self, entry: LogEntry, source: str | None = None) -> bool:
        return (self._call_id is None or entry.object_id == self._call_id) and source in (None, entry.source)

    def tail(self, entries: int = 100, *, source: str | None = None) -> list[LogEntry]:
        """The newest ``entries`` lines (of ``source`` "stdout"/"stderr" only, if given)."""
        return [e for e in self._entries() if source in (None, e.source)][-entries:] if entries > 0 else []

    def fetch(self, *, since: datetime, until: datetime | None = None, source: str | None = None,
              search_text: str = "") -> list[LogEntry]:
        """Lines printed from ``since`` (inclusive) to ``until`` (exclusive, default now) containing
        ``search_text``; a datetime without a timezone is local time, as on the platform."""
        start, end = _utc(since), _utc(until) if until is not None else None
        return [e for e in self._entries() if e.timestamp >= start and (end is None or e.timestamp < end)
                and source in (None, e.source) and search_text in e.message]

    def stream(self, timeout: float | None = None) -> Iterator[LogEntry]:
        """Lines printed from now on, as they come, until ``timeout`` seconds have passed (None: until
        the caller stops)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = {id(b): b.since(0)[0] for b in self._buffers()}  # now, not at the first next()
        return self._follow(seen, deadline)

    def _follow(self, seen: dict[int, int], deadline: float | None) -> Iterator[LogEntry]:
        while deadline is None or time.monotonic() < deadline:
            for buffer in self._buffers():
                seen[id(buffer)], fresh = buffer.since(seen.get(id(buffer), 0))
                yield from (e for e in fresh if self._wanted(e))
            buffers = self._buffers()
            if buffers:
                left = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
                buffers[0].wait_for(seen.get(id(buffers[0]), 0), left)
            else:
                time.sleep(0.05)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)

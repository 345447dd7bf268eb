"""A local pool's counters over time: what ``Function.stats(since=, until=)`` reads.

Every finished input (success, failure, timeout, cancelled), every worker start and every worker
that failed (its import raised, or it exited unasked) is an event with its wall-clock time, kept
in a bounded ring (the newest `MAX_EVENTS`); each input's run time is kept the same way for the
percentiles.  Counting over a window is a scan: stats are asked for rarely, events happen often.
"""

from __future__ import annotations

import collections
import threading
import time

MAX_EVENTS = 100_000
KINDS = ("success", "failure", "timeout", "cancelled", "container_started", "container_error")
PERCENTILES = (50, 90, 95, 99)


class PoolCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: collections.deque[tuple[float, str]] = collections.deque(maxlen=MAX_EVENTS)
        self._durations: collections.deque[tuple[float, float]] = collections.deque(maxlen=MAX_EVENTS)

    def add(self, kind: str) -> None:
        assert kind in KINDS, kind
        with self._lock:
            self._events.append((time.time(), kind))

    def duration(self, seconds: float) -> None:
        with self._lock:
            self._durations.append((time.time(), seconds))

    def counts(self, since: float, until: float) -> dict[str, int]:
        """Events of each kind with ``since <= time < until`` (POSIX seconds)."""
        found = dict.fromkeys(KINDS, 0)
        with self._lock:
            for when, kind in self._events:
                if since <= when < until:
                    found[kind] += 1
        return found

    def durations(self, since: float, until: float) -> list[float]:
        with self._lock:
            return sorted(s for when, s in self._durations if since <= when < until)


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile of sorted ``values`` (0.0 for none)."""
    if not values:
        return 0.0
    rank = max(1, -(-len(values) * p // 100))
    return values[int(rank) - 1]

"""Deadlines for requests in flight (the budget, the function's timeout) on one timer.

Every proxied request has two deadlines, and nearly every request ends long before both:
a timer per deadline (``loop.call_later``, then ``cancel``) is a heap push, an object and
a cancelled entry to sweep per request, paid for nothing.  Here a deadline is one dict
entry: requests are grouped by their length in seconds, so within a group insertion order
is deadline order (dicts keep it), and the earliest deadline of all is the first entry of
one of the groups.  One timer is armed for it; when it fires, what is due expires and the
timer moves to the next.  A request that ends just deletes its entries; the timer may then
fire for nothing, at most once per group per period, and re-arms itself.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Hashable

Expire = Callable[[], None]


class Deadlines:
    def __init__(self) -> None:
        self._groups: dict[float, dict[Hashable, tuple[float, Expire]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def add(self, seconds: float, key: Hashable, expire: Expire) -> None:
        """Call ``expire()`` in ``seconds`` unless ``discard(seconds, key)`` comes first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        group = self._groups.get(seconds)
        if group is None:
            group = self._groups[seconds] = {}
        group[key] = (deadline, expire)
        if deadline < self._timer_at:
            self._arm(loop, deadline)

    def discard(self, seconds: float, key: Hashable) -> None:
        group = self._groups.get(seconds)
        if group is not None:
            group.pop(key, None)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = loop.call_at(when, self._fire), when

    def _fire(self) -> None:
        self._timer, self._timer_at = None, math.inf
        loop = asyncio.get_running_loop()
        now = loop.time()
        due: list[Expire] = []
        for group in self._groups.values():
            while group:
                key = next(iter(group))
                deadline, expire = group[key]
                if deadline > now:
                    break
                del group[key]
                due.append(expire)
        for seconds in [s for s, group in self._groups.items() if not group]:
            del self._groups[seconds]
        heads = [group[next(iter(group))][0] for group in self._groups.values()]
        if heads:
            self._arm(loop, min(heads))
        for expire in due:  # after re-arming: an expiry may add or discard deadlines
            expire()

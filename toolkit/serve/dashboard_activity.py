"""What a serve has been doing, for the terminal and the dashboard: requests and workers' output.

`Activity` keeps the last requests (function, method, path, status, duration, client) and the
last lines each function's workers printed, prints each as it happens (an access log line, the
output prefixed with the function's name; ``--quiet`` drops the access log, ``--json-logs``
prints both as JSON lines), and hands them to the dashboard's live stream (`subscribe`).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TextIO

__all__ = ["Activity", "LogLine", "RequestRecord", "ShutdownNoise"]

RECENT_REQUESTS = 200
RECENT_LINES = 500  # per function
SUBSCRIBER_BACKLOG = 1000  # events a slow dashboard may fall behind by before it is dropped


@dataclass(frozen=True)
class RequestRecord:
    seq: int
    function: str
    method: str
    path: str
    status: int
    started: float  # wall clock
    duration_ms: float
    client: str

    def access_line(self) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(self.started))
        return f"{when} {self.function} {self.method} {self.path} {self.status} {self.duration_ms:.0f} ms"


@dataclass(frozen=True)
class LogLine:
    seq: int
    function: str
    time: float
    line: str


class Activity:
    def __init__(self, out: TextIO | None = None, *, quiet: bool = False, json_logs: bool = False) -> None:
        self.out = out
        self.quiet, self.json_logs = quiet, json_logs
        self.requests: collections.deque[RequestRecord] = collections.deque(maxlen=RECENT_REQUESTS)
        self.lines: dict[str, collections.deque[LogLine]] = {}
        self._seq = itertools.count(1)
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    # -- recording ----------------------------------------------------------------------------
    def request(self, function: str, method: str, path: str, status: int, started: float, client: str) -> None:
        """One finished request (``started``: wall clock); called once per response the client got."""
        record = RequestRecord(next(self._seq), function, method, path, status, started,
                               max(0.0, (time.time() - started) * 1000), client)
        self.requests.append(record)
        if not self.quiet:
            self._print(record.access_line(), {"event": "request", **asdict(record)})
        self._publish({"type": "request", **asdict(record)})

    def output(self, function: str, line: str) -> None:
        """A line a worker of ``function`` printed (stdout or stderr)."""
        entry = LogLine(next(self._seq), function, time.time(), line.rstrip("\r\n"))
        self.lines.setdefault(function, collections.deque(maxlen=RECENT_LINES)).append(entry)
        self._print(f"[{function}] {entry.line}", {"event": "output", **asdict(entry)})
        self._publish({"type": "log", **asdict(entry)})

    def output_for(self, function: str) -> Callable[[str], None]:
        return lambda line: self.output(function, line)

    # -- reading ------------------------------------------------------------------------------
    def recent_lines(self, function: str | None = None, limit: int = RECENT_LINES) -> list[LogLine]:
        pools = [self.lines.get(function, ())] if function else list(self.lines.values())
        merged = sorted(itertools.chain.from_iterable(pools), key=lambda e: e.seq)
        return merged[-limit:]

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """A queue of every event from now on (``unsubscribe`` it when the reader leaves)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    # -- out ----------------------------------------------------------------------------------
    def _print(self, text: str, as_json: dict[str, Any]) -> None:
        out = self.out or sys.stdout
        try:
            out.write((json.dumps(as_json) if self.json_logs else text) + "\n")
            out.flush()
        except (OSError, ValueError):  # a closed terminal must not stop the serve
            pass

    def _publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a reader this far behind reloads the page's state instead
                self._subscribers.discard(queue)


class ShutdownNoise(logging.Filter):
    """uvicorn's logger while a serve or a worker stops: the cancellation of requests cut off at the
    end of the graceful drain is one line saying so (``cut_off``), not a CancelledError traceback."""

    def __init__(self, cut_off: str | None) -> None:
        super().__init__()
        self.cut_off = cut_off

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, asyncio.CancelledError):
            if self.cut_off:
                print(self.cut_off, file=sys.stderr, flush=True)
            return False
        return "timeout graceful shutdown exceeded" not in record.getMessage()

    @classmethod
    def install(cls, cut_off: str | None = None) -> None:
        logging.getLogger("uvicorn.error").addFilter(cls(cut_off))

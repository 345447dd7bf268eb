"""``fn.logs`` for a function that runs on AWS: the lines of its Lambda's CloudWatch log group.

The same ``tail`` / ``fetch`` / ``stream`` as the local view (`toolkit.local.logs.LogsView`),
read the way ``toolkit logs`` reads them (`toolkit.deploy.logs`: ``filter_log_events`` from the
newest timestamp seen, dropping events already returned).  Its own small loop, not an import of
that module: the deploy package reaches back to the SDK, which would close an import cycle.  CloudWatch keeps one
stream of lines per container, not stdout and stderr apart, so every entry's ``source`` is
"stdout" and its ``context_ids`` name the log stream.  A Lambda's group is
``/aws/lambda/<function name>``, known from its ARN; an ECS/GPU function's group is named by the
stack, and ``toolkit deploy`` records it in the app's call map (`runtime.callmap`).  One view reads
several groups (``App.logs``: every function's), their lines merged in time order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from toolkit.exception import NotFoundError
from toolkit.local.logs import LogEntry

TAIL_WINDOW = timedelta(days=1)  # how far back tail() looks for its last lines
POLL_S = 1.0  # stream(): how often CloudWatch is asked for new lines


def lambda_log_group(lambda_arn: str) -> tuple[str, str]:
    """(log group, region) of a Lambda function or alias ARN."""
    parts = lambda_arn.split(":")
    return f"/aws/lambda/{parts[6]}", parts[3]


class CloudLogsView:
    """``tail``/``fetch``/``stream`` over one log group, or several merged (``log_group`` a sequence)."""

    def __init__(self, log_group: str | Sequence[str], region: str) -> None:
        self.log_groups = [log_group] if isinstance(log_group, str) else list(log_group)
        self.region = region

    @property
    def log_group(self) -> str:
        """The first group read (a function's only one)."""
        return self.log_groups[0]

    def _read(self, since: datetime) -> tuple[list[_Cursor], list[LogEntry]]:
        from runtime.awsclients import client

        logs = client("logs", self.region)
        cursors = [_Cursor(logs, group, int(since.timestamp() * 1000)) for group in self.log_groups]
        return cursors, self._entries(cursors)

    def _entries(self, cursors: list[_Cursor]) -> list[LogEntry]:
        events = [event for cursor in cursors for event in self._fetch(cursor)]
        events.sort(key=lambda e: (e["timestamp"], e["eventId"]))  # groups merged in time order
        return [_entry(event) for event in events]

    def _fetch(self, cursor: _Cursor) -> list[dict[str, Any]]:
        try:
            return cursor.fetch()
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise NotFoundError(f"No CloudWatch log group {cursor.log_group} in {self.region}: the function has "
                                    "not run (or is not deployed) there; deploy it with `toolkit deploy`.") from None
            raise

    def tail(self, entries: int = 100, *, source: str | None = None) -> list[LogEntry]:
        """The newest ``entries`` lines of the last day."""
        lines = self._read(datetime.now(timezone.utc) - TAIL_WINDOW)[1]
        return [e for e in lines if source in (None, e.source)][-entries:] if entries > 0 else []

    def fetch(self, *, since: datetime, until: datetime | None = None, source: str | None = None,
              search_text: str = "") -> list[LogEntry]:
        """Lines from ``since`` (inclusive) to ``until`` (exclusive) containing ``search_text``."""
        end = until.astimezone(timezone.utc) if until is not None else None
        return [e for e in self._read(since.astimezone(timezone.utc))[1]
                if (end is None or e.timestamp < end) and source in (None, e.source) and search_text in e.message]

    def stream(self, timeout: float | None = None) -> Iterator[LogEntry]:
        """Lines written from now on, polled every `POLL_S` seconds, until ``timeout`` (None: until the
        caller stops)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        cursors, _old = self._read(datetime.now(timezone.utc))  # what is there now is not new
        return self._follow(cursors, deadline)

    def _follow(self, cursors: list[_Cursor], deadline: float | None) -> Iterator[LogEntry]:
        while deadline is None or time.monotonic() < deadline:
            yield from self._entries(cursors)
            time.sleep(POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic())))


class _Cursor:
    """A log group read forward: each `fetch` returns the events after the last one it returned."""

    def __init__(self, logs: Any, log_group: str, start_ms: int) -> None:
        self.logs, self.log_group, self.start_ms = logs, log_group, start_ms
        self.seen: set[str] = set()  # events of the newest millisecond are asked for again

    def fetch(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {"logGroupName": self.log_group, "startTime": self.start_ms}
        while True:
            page = self.logs.filter_log_events(**request)
            found += [e for e in page.get("events", []) if e["eventId"] not in self.seen]
            if not page.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
        found.sort(key=lambda e: (e["timestamp"], e["eventId"]))
        self.seen.update(e["eventId"] for e in found)
        self.start_ms = max([self.start_ms, *(int(e["timestamp"]) for e in found)])
        return found


def _entry(event: dict[str, Any]) -> LogEntry:
    when = datetime.fromtimestamp(event["timestamp"] / 1000, tz=timezone.utc)
    stream = str(event.get("logStreamName", ""))
    return LogEntry(str(event.get("message", "")).rstrip("\n"), when, "stdout", "", [stream] if stream else [])


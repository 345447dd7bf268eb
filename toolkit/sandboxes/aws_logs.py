"""``sb.logs`` of a sandbox on AWS: its task's CloudWatch log stream.

The agent copies the main command's output to its own stdout/stderr (`runtime.sandbox_agent`),
which the task definition sends to the sandboxes' log group (`infra.components.sandboxes`:
``/toolkit/<prefix>/sandboxes``, stream ``sandbox/<container>/<task id>``).  CloudWatch keeps one
stream per container, not stdout and stderr apart, so every entry's ``source`` is "stdout" (as
`toolkit.cloud_logs` says for functions).  A stream that does not exist yet (the task is still
starting) reads as no lines.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from toolkit.local.logs import LogEntry
from toolkit.sandboxes.logs import check_source

__all__ = ["AwsSandboxLogs", "log_stream"]

STREAM_PREFIX = "sandbox"  # the task definition's awslogs-stream-prefix (infra/components/sandboxes.py)


def log_stream(container: str, task_arn: str) -> str:
    """awslogs names a task's stream ``<prefix>/<container>/<task id>``."""
    return f"{STREAM_PREFIX}/{container}/{task_arn.rsplit('/', 1)[-1]}"


class AwsSandboxLogs:
    def __init__(self, sandbox_id: str, log_group: str, stream: str) -> None:
        self.sandbox_id, self.log_group, self.stream = sandbox_id, log_group, stream

    def _read(self, start: datetime, end: datetime | None) -> list[LogEntry]:
        from runtime.awsclients import client

        logs = client("logs")
        request: dict[str, Any] = {"logGroupName": self.log_group, "logStreamNames": [self.stream],
                                   "startTime": int(start.timestamp() * 1000)}
        if end is not None:
            request["endTime"] = int(end.timestamp() * 1000)
        events: list[dict[str, Any]] = []
        while True:
            try:
                page = logs.filter_log_events(**request)
            except Exception as exc:
                if getattr(exc, "response", {}).get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return []  # no stream yet: the task has written nothing
                raise
            events += page.get("events", [])
            if not page.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
        events.sort(key=lambda e: (e["timestamp"], e.get("eventId", "")))
        return [self._entry(e) for e in events]

    def _entry(self, event: dict[str, Any]) -> LogEntry:
        when = datetime.fromtimestamp(event["timestamp"] / 1000, tz=timezone.utc)
        return LogEntry(str(event.get("message", "")).rstrip("\n"), when, "stdout", self.sandbox_id, [self.stream])

    def tail(self, entries: int = 100, *, source: str | None = None) -> list[LogEntry]:
        """The newest ``entries`` lines of the task (all of them are "stdout"), oldest first."""
        check_source(source)
        lines = [e for e in self._read(datetime.fromtimestamp(0, tz=timezone.utc), None) if source in (None, e.source)]
        return lines[-entries:] if entries > 0 else []

    def fetch(self, *, since: datetime, until: datetime | None = None, source: str | None = None,
              search_text: str = "") -> list[LogEntry]:
        """Lines from ``since`` (inclusive) to ``until`` (exclusive) containing ``search_text``."""
        check_source(source)
        start = since.astimezone(timezone.utc)
        end = until.astimezone(timezone.utc) if until is not None else None
        return [e for e in self._read(start, end)
                if (end is None or e.timestamp < end) and source in (None, e.source) and search_text in e.message]

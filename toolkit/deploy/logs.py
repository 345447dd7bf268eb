"""``toolkit logs``: a function's CloudWatch log group, printed once or followed.

Follow mode polls ``filter_log_events`` from the newest timestamp seen and drops events
already printed (several can share a millisecond), the way ``aws logs tail --follow`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["LogTail"]


@dataclass
class LogTail:
    client: Any  # boto3 "logs" client
    log_group: str
    start_ms: int
    _seen: set[str] = field(default_factory=set)

    def fetch(self) -> Iterator[dict[str, Any]]:
        """Events since the last fetch, oldest first."""
        kwargs: dict[str, Any] = {"logGroupName": self.log_group, "startTime": self.start_ms, "interleaved": True}
        while True:
            page = self.client.filter_log_events(**kwargs)
            for event in sorted(page.get("events", []), key=lambda e: (e["timestamp"], e["eventId"])):
                if event["eventId"] in self._seen:
                    continue
                self._seen.add(event["eventId"])
                self.start_ms = max(self.start_ms, int(event["timestamp"]))
                yield event
            if not page.get("nextToken"):
                return
            kwargs["nextToken"] = page["nextToken"]

    def follow(self, write: Callable[[str], None], *, interval: float = 2.0,
               keep_going: Callable[[], bool] = lambda: True) -> None:
        while keep_going():
            for event in self.fetch():
                write(format_event(event))
            time.sleep(interval)


def format_event(event: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(event["timestamp"] / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{when[:-4]}Z {event.get('logStreamName', '')} {str(event.get('message', '')).rstrip()}"


def since_ms(minutes: float, now: float | None = None) -> int:
    return int(((now if now is not None else time.time()) - minutes * 60) * 1000)

"""``toolkit logs``: a function's (or every function's) CloudWatch log group, printed once or followed.

The log groups are named from the manifest by the infra plan (`infra.plan.log_group_name`), so
reading logs needs boto3 and credentials but neither the Pulumi CLI nor the stack's state.
Follow mode polls ``filter_log_events`` from the newest timestamp seen and drops events
already printed (several can share a millisecond), the way ``aws logs tail --follow`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from toolkit.deploy.errors import DeployError

__all__ = ["AppLogs", "LogTail", "format_event", "function_log_groups", "since_ms"]


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


def function_log_groups(manifest: dict[str, Any], stack: Any, region: str) -> dict[str, str]:
    """Function tag -> its log group, as the deploy of ``manifest`` to ``stack`` names them."""
    from infra.config import settings_from
    from infra.plan import log_group_name, plan_app
    from toolkit.deploy.offline import placeholder_images
    from toolkit.deploy.stack_config import stack_config
    from toolkit.deploy.target import Target

    config = stack_config(manifest, Target("aws", region), images=placeholder_images(manifest))
    settings = settings_from(lambda key: config.get(f"toolkit:{key}"), stack=stack.stack, default_region=region,
                             project=stack.project)
    app = plan_app(settings)
    return {fn.tag: log_group_name(fn, app.prefix) for fn in app.functions}


@dataclass
class AppLogs:
    """Several functions' log tails read together: events merged by time, each line led by its function."""

    tails: dict[str, LogTail]  # function tag -> its tail
    region: str
    missing: set[str] = field(default_factory=set)  # tags whose group does not exist (yet)

    def fetch(self) -> list[str]:
        lines: list[tuple[int, str, str]] = []
        for tag, tail in self.tails.items():
            if tag in self.missing:
                continue
            try:
                lines.extend((int(e["timestamp"]), tag, format_event(e)) for e in tail.fetch())
            except Exception as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                self.missing.add(tag)
        if self.missing and self.missing == set(self.tails):
            raise DeployError(self._nothing_deployed())
        prefix = len(self.tails) > 1
        return [f"[{tag}] {line}" if prefix else line for _ts, tag, line in sorted(lines, key=lambda x: x[:2])]

    def follow(self, write: Callable[[str], None], *, interval: float = 2.0,
               keep_going: Callable[[], bool] = lambda: True) -> None:
        while keep_going():
            for line in self.fetch():
                write(line)
            time.sleep(interval)

    def _nothing_deployed(self) -> str:
        groups = ", ".join(sorted(self.tails[t].log_group for t in self.missing))
        return (f"No log group {groups} in {self.region}: the app is not deployed there, or under another "
                "--env/--region (toolkit deploy creates them).")


def _code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))

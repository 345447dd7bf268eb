"""Schedules under ``toolkit serve``: each ``schedule=Period/Cron`` function runs when it is due.

The gateway never imports user code, so each run is a fresh process (``python -m
toolkit.serve.schedules REF TAG``) that loads the app and calls the function with its secrets'
environment, as a worker would.  Its output goes to serve's console.

Semantics (the same as deployed, see `toolkit.schedule`): every due time starts a run, even if
the previous run is still going; a `Period` counts from when serve started (or from the reload
that changed it); times missed while serve was not running are not replayed.  A reload keeps the
next due time of every schedule it did not change.  ``toolkit serve --no-schedules`` turns this off.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from runtime.manifest import load
from toolkit.schedule import Schedule, schedule_from_dict

__all__ = ["Due", "ScheduleRunner", "scheduled"]

STOP_GRACE_S = 5.0


@dataclass
class Due:
    """One scheduled function: when it runs next, counted from ``start``."""

    tag: str
    schedule: Schedule
    start: datetime
    next_run: datetime
    runs: int = 0


def scheduled(manifest: Mapping[str, Any], now: datetime) -> dict[str, Due]:
    """The manifest's scheduled functions, each with its first run after ``now``."""
    found = {}
    for entry in load(manifest).functions:
        if entry.schedule is not None:
            schedule = schedule_from_dict(entry.schedule.to_dict())
            found[entry.tag] = Due(entry.tag, schedule, now, schedule.next_run(now, now))
    return found


class ScheduleRunner:
    """Fires due runs from serve's event loop; `install` swaps in a reloaded app's schedules."""

    def __init__(self, target: str, is_module: bool, log: Callable[[str], None]) -> None:
        self.target, self.is_module, self.log = target, is_module, log
        self.due: dict[str, Due] = {}
        self.env: dict[str, dict[str, str]] = {}
        self.sys_path: tuple[str, ...] = ()
        self.running: set[asyncio.subprocess.Process] = set()
        self._changed = asyncio.Event()

    def install(self, manifest: Mapping[str, Any], env: Mapping[str, dict[str, str]],
                sys_path: tuple[str, ...]) -> None:
        fresh = scheduled(manifest, datetime.now(timezone.utc))
        for tag, due in fresh.items():
            old = self.due.get(tag)
            if old is not None and old.schedule == due.schedule:
                fresh[tag] = old  # unchanged: keep its clock
        self.due, self.env, self.sys_path = fresh, dict(env), sys_path
        for due in sorted(self.due.values(), key=lambda d: d.tag):
            self.log(f"⏲ {due.tag} runs on {due.schedule!r}; next run {_when(due.next_run)}")
        self._changed.set()

    async def run(self) -> None:
        try:
            while True:
                self._changed.clear()
                delay = self._seconds_to_next()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), delay)
                self._fire_due()
        finally:
            await self.stop()

    def _seconds_to_next(self) -> float | None:
        if not self.due:
            return None
        soonest = min(d.next_run for d in self.due.values())
        return max(0.0, (soonest - datetime.now(timezone.utc)).total_seconds())

    def _fire_due(self) -> None:
        now = datetime.now(timezone.utc)
        for due in self.due.values():
            if due.next_run <= now:
                due.runs += 1
                asyncio.ensure_future(self._run_once(due, due.runs))
                due.next_run = due.schedule.next_run(now, due.start)  # skip, never replay, missed times

    async def _run_once(self, due: Due, number: int) -> None:
        args = [sys.executable, "-m", "toolkit.serve.schedules", self.target, due.tag]
        env = {**os.environ, **self.env.get(due.tag, {}),
               "PYTHONPATH": os.pathsep.join(self.sys_path or sys.path)}
        started = time.monotonic()
        self.log(f"⏲ {due.tag}: scheduled run {number} started")
        proc = await asyncio.create_subprocess_exec(*args, *(["--module"] if self.is_module else []), env=env)
        self.running.add(proc)
        try:
            code = await proc.wait()
        finally:
            self.running.discard(proc)
        outcome = "finished" if code == 0 else f"failed (exit code {code})"
        self.log(f"⏲ {due.tag}: scheduled run {number} {outcome} in {time.monotonic() - started:.1f} s; "
                 f"next run {_when(due.next_run)}")

    async def stop(self) -> None:
        """Stop runs still going (serve is exiting): SIGTERM, then SIGKILL after a grace period."""
        for proc in list(self.running):
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in list(self.running):
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def main(argv: list[str]) -> int:
    """One scheduled run: load the app, call the function with no arguments."""
    from toolkit.exception import Error
    from toolkit.loader import load_app

    ref, tag, is_module = argv[0], argv[1], "--module" in argv[2:]
    try:
        function = load_app(ref, is_module=is_module).registered_functions[tag]
    except (Error, KeyError) as exc:
        print(f"Scheduled run of {tag!r} could not load the app: {exc}", file=sys.stderr)
        return 1
    result = function.local()
    if inspect.isawaitable(result):
        asyncio.run(_awaited(result))
    elif inspect.isgenerator(result):
        for _ in result:  # a generator's work happens as it is drained
            pass
    return 0


async def _awaited(result: Any) -> None:
    await result


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

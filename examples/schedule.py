"""Schedules: a function every minute and one on weekday mornings in Paris.

    toolkit serve examples/schedule.py     # runs them when due, printing each next run
    toolkit run examples/schedule.py       # shows the next runs and does one heartbeat now
    toolkit deploy examples/schedule.py    # EventBridge Scheduler runs them on AWS

A `Period` counts from when serve starts (or from the deploy); a `Cron` follows the wall clock of
its time zone.  Each run is a fresh call with no arguments; a run that is due while the previous one
is still going starts anyway (see docs/primitives.md).
"""

import time
from datetime import datetime, timezone

import toolkit

app = toolkit.App("schedules")
stats = toolkit.Dict.from_name("schedule-example", create_if_missing=True)


@app.function(schedule=toolkit.Period(minutes=1))
def heartbeat() -> int:
    beats = stats.get("beats", 0) + 1  # one writer per minute: no race to guard against
    stats.update(beats=beats, last=time.time())
    return beats


@app.function(schedule=toolkit.Cron("0 9 * * 1-5", timezone="Europe/Paris"))
def weekday_report() -> str:
    return f"{stats.get('beats', 0)} heartbeats so far"


@app.local_entrypoint()
def main() -> None:
    now = datetime.now(timezone.utc)
    for fn in (heartbeat, weekday_report):
        schedule = fn.spec.schedule
        assert schedule is not None
        print(f"{fn.spec.tag}: {schedule!r}, next run {schedule.next_run(now, now).isoformat()}")
    print("heartbeat now ->", heartbeat.remote())
    print("weekday_report now ->", weekday_report.remote())

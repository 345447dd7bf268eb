"""Schedules as plan data: which functions EventBridge Scheduler fires, when, with what input.

Pure (no Pulumi), so tests and ``toolkit deploy`` read the same decisions.  A schedule targets the
function's Lambda alias with the runtime's direct-call event and an empty argument list (the same
event ``.remote()`` sends, `runtime.invocation.call_event`), invoked asynchronously.  The scheduler
retries a delivery that fails (throttling, a missing target; `RETRY_ATTEMPTS`, within
`MAX_EVENT_AGE_S`) and then puts the event on the schedules' dead-letter queue.  A run whose code
raises is a delivered event: the runtime logs its traceback to the function's log group (its
``retries=`` do not apply to scheduled runs).
Functions that run on ECS or GPU capacity have no Lambda to invoke: their runs need a call record
before their worker state machine starts, which EventBridge Scheduler cannot write; the plan
refuses them with the fix instead of deploying a schedule that would fail every time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from infra.config import ConfigError
from infra.plan import AppPlan, FunctionPlan
from runtime import manifest as schema
from runtime.errors import InvalidError
from runtime.invocation import call_event, encode_args
from runtime.schedule import schedule_from_dict

__all__ = ["MAX_EVENT_AGE_S", "RETRY_ATTEMPTS", "SCHEDULE_NAME_MAX", "SchedulePlan", "plan_schedules"]

SCHEDULE_NAME_MAX = 64  # EventBridge Scheduler: 1-64 of [0-9a-zA-Z-_.]
RETRY_ATTEMPTS = 3
MAX_EVENT_AGE_S = 3600  # a run that cannot be delivered within an hour is stale: dead-letter it


@dataclass(frozen=True)
class SchedulePlan:
    tag: str
    function_name: str  # the function's physical name (also the schedule's name)
    expression: str  # rate(...) or cron(...), as EventBridge Scheduler reads it
    timezone: str
    description: str  # the schedule as the user wrote it
    input: str  # JSON the Lambda receives


def plan_schedules(manifest: schema.Manifest, app: AppPlan) -> tuple[SchedulePlan, ...]:
    plans = {fn.tag: fn for fn in app.functions}
    return tuple(_plan(entry, plans[entry.tag]) for entry in manifest.functions if entry.schedule is not None)


def _plan(entry: schema.FunctionEntry, fn: FunctionPlan) -> SchedulePlan:
    assert entry.schedule is not None
    schedule = schedule_from_dict(entry.schedule.to_dict())
    if fn.backend != "lambda":
        raise ConfigError(f"function {fn.tag!r} has schedule={schedule!r} but runs on {fn.backend.upper()}, and "
                          "toolkit deploys schedules to Lambda functions only: give it backend='lambda' (and a "
                          "timeout of at most 900 s), or let a scheduled Lambda function .spawn() it.")
    try:
        expression = schedule.to_aws()
    except InvalidError as exc:
        raise ConfigError(f"function {fn.tag!r}: {exc}") from None
    timezone = entry.schedule.timezone if entry.schedule.kind == "cron" else "UTC"
    event = call_event(fn.tag, payload=encode_args((), {}))
    return SchedulePlan(fn.tag, fn.name[:SCHEDULE_NAME_MAX], expression, timezone, repr(schedule),
                        json.dumps(event, sort_keys=True))

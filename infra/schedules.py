"""Schedules as plan data: which functions EventBridge Scheduler fires, when, with what input.

Pure (no Pulumi), so tests and ``toolkit deploy`` read the same decisions.  A function on Lambda is
scheduled on its alias with the runtime's direct-call event and an empty argument list (the same
event ``.remote()`` sends, `runtime.invocation.call_event`), invoked asynchronously.  A function on
ECS or GPU capacity has no Lambda: its schedule starts its worker state machine
(``states:StartExecution``) with `infra.asl.schedule_input`, and that state machine records the
run as a call before its worker starts (infra/asl.py ``Route``), so a scheduled run is an
ordinary call there: in the calls table, retried per ``retries=``, marked FAILED if its task
never reports.  The scheduler retries a delivery that fails (throttling, a missing target;
`RETRY_ATTEMPTS`, within `MAX_EVENT_AGE_S`) and then puts the event on the schedules' dead-letter
queue.  A Lambda run whose code raises is a delivered event: the runtime logs its traceback to the
function's log group (its ``retries=`` do not apply to scheduled Lambda runs).
Web endpoints are refused with the fix: they take requests, not a no-argument call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from infra.asl import schedule_input
from infra.config import ConfigError
from infra.plan import AppPlan, FunctionPlan
from runtime import manifest as schema
from runtime.errors import InvalidError
from runtime.invocation import call_event, encode_args
from runtime.schedule import schedule_from_dict

__all__ = ["MAX_EVENT_AGE_S", "RETRY_ATTEMPTS", "SCHEDULE_NAME_MAX", "ScheduleTarget", "SchedulePlan",
           "plan_schedules"]

SCHEDULE_NAME_MAX = 64  # EventBridge Scheduler: 1-64 of [0-9a-zA-Z-_.]
RETRY_ATTEMPTS = 3
MAX_EVENT_AGE_S = 3600  # a run that cannot be delivered within an hour is stale: dead-letter it
# what the schedule fires: the function's Lambda alias, or its worker state machine (ECS/GPU)
ScheduleTarget = Literal["lambda", "state_machine"]


@dataclass(frozen=True)
class SchedulePlan:
    tag: str
    function_name: str  # the function's physical name (also the schedule's name)
    expression: str  # rate(...) or cron(...), as EventBridge Scheduler reads it
    timezone: str
    description: str  # the schedule as the user wrote it
    input: str  # JSON the Lambda receives, or the state machine's execution input
    target: ScheduleTarget = "lambda"


def plan_schedules(manifest: schema.Manifest, app: AppPlan) -> tuple[SchedulePlan, ...]:
    plans = {fn.tag: fn for fn in app.functions}
    return tuple(_plan(entry, plans[entry.tag]) for entry in manifest.functions if entry.schedule is not None)


def _plan(entry: schema.FunctionEntry, fn: FunctionPlan) -> SchedulePlan:
    assert entry.schedule is not None
    schedule = schedule_from_dict(entry.schedule.to_dict())
    target = _target(entry, fn, repr(schedule))
    try:
        expression = schedule.to_aws()
    except InvalidError as exc:
        raise ConfigError(f"function {fn.tag!r}: {exc}") from None
    timezone = entry.schedule.timezone if entry.schedule.kind == "cron" else "UTC"
    event = call_event(fn.tag, payload=encode_args((), {})) if target == "lambda" else schedule_input(fn.tag)
    return SchedulePlan(fn.tag, fn.name[:SCHEDULE_NAME_MAX], expression, timezone, repr(schedule),
                        json.dumps(event, sort_keys=True), target)


def _target(entry: schema.FunctionEntry, fn: FunctionPlan, schedule: str) -> ScheduleTarget:
    if entry.is_web:
        raise ConfigError(f"function {fn.tag!r} is a web endpoint ({entry.kind}) with schedule={schedule}: a "
                          "schedule calls a function with no arguments, not with a request. Put the schedule on a "
                          "plain @app.function (it may call the endpoint's logic or its URL).")
    # a Lambda function's timeout is at most 900 s (toolkit.spec refuses more): its alias can run it
    return "lambda" if fn.has_lambda else "state_machine"

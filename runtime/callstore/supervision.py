"""Supervision on AWS: an unfinished call whose worker is gone is settled FAILED by whoever reads it.

Locally a call's owner is a process and a reader that finds it dead settles the call as lost
(`toolkit.local.ownership`).  On AWS nothing dies that visibly, so the DynamoDB store's reads ask
the two things that can run a call, and only when its record has stopped changing for a while:

* its **Step Functions execution** (named after the call id, `runtime.stepfunctions`).  The
  worker state machine's Catch marks a call FAILED when its worker stops (infra/asl.py
  ``MarkFailed``), but nothing in the state machine runs when the execution itself ends: stopped
  (StopExecution, the console), timed out at the state-machine level, or failed outside the Catch
  (``MarkFailed`` could not write).  ``DescribeExecution`` says so.  A call without an execution
  (a direct ``.remote()`` invoke, a scheduled run started by EventBridge Scheduler, whose execution
  has its own name) is not judged this way.
* the **ECS task** that claimed it (`ecs_task_owner`, recorded by ``mark_running`` as the call's
  owner): an ECS service runs over-budget web calls on its own threads (no Step Functions at all),
  and an ECS worker task may be stopped (OOM, scale-in, a deploy) before it writes a result.
  ``DescribeTasks`` says it is STOPPED (or gone: ECS forgets stopped tasks after about an hour).

The verdict is written with the conditional write a result uses (``complete`` needs the call
PENDING or RUNNING), so a result that landed first is kept and a late one never replaces the
verdict.  Why readers and not an EventBridge rule on "Execution Status Change" with a Lambda: no
extra function, rule, role or dead-letter queue to deploy and keep in step, and a call is settled
exactly when someone is waiting for it; the cost is one ``DescribeExecution`` (and, for ECS-owned
calls, one ``DescribeTasks``) per `DEFAULT_CHECK_EVERY_S` of a waiting reader, and a call nobody
reads stays RUNNING in the table until its TTL removes it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from runtime.awsclients import client
from runtime.callstore.base import CallRecord
from runtime.serialization import WorkerFailedError

__all__ = [
    "DEFAULT_CHECK_EVERY_S",
    "ECS_OWNER_PREFIX",
    "ENDED_EXECUTION",
    "METADATA_ENV",
    "Supervisor",
    "ecs_owner",
    "ecs_task_owner",
    "execution_arn",
]

log = logging.getLogger("toolkit.runtime")

DEFAULT_CHECK_EVERY_S = 10.0  # how long a record must stay unchanged before its worker is asked about
ECS_OWNER_PREFIX = "ecs-task:"
METADATA_ENV = "ECS_CONTAINER_METADATA_URI_V4"  # set by ECS in every container (Fargate and EC2)
# An execution in one of these states will never write a result.  SUCCEEDED too: the worker task
# replies only once the call is finished, so an unfinished call under a SUCCEEDED execution is stuck.
ENDED_EXECUTION = frozenset({"ABORTED", "TIMED_OUT", "FAILED", "SUCCEEDED"})
_HOW = {
    "ABORTED": "was stopped (StopExecution, or Stop in the Step Functions console)",
    "TIMED_OUT": "timed out (the state machine's own TimeoutSeconds)",
    "FAILED": "failed without recording the failure on the call",
    "SUCCEEDED": "ended without the worker recording a result",
}
_REMEMBERED = 10_000  # calls whose quiet time one process tracks; past it the oldest are forgotten


def execution_arn(state_machine_arn: str, call_id: str) -> str:
    """The execution `runtime.stepfunctions.start_execution` starts for ``call_id`` (it names it so)."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{call_id}"


def ecs_owner(cluster: str, task_arn: str) -> str:
    """A call owner naming an ECS task: ``ecs-task:<cluster>|<task ARN>``."""
    return f"{ECS_OWNER_PREFIX}{cluster}|{task_arn}"


@functools.cache
def ecs_task_owner() -> str | None:
    """This container's ECS task as a call owner (from the task metadata endpoint); None outside ECS."""
    base = os.environ.get(METADATA_ENV)
    if not base:
        return None
    import urllib.request  # only inside ECS: a Lambda cold start does not pay for it

    try:
        with urllib.request.urlopen(f"{base}/task", timeout=2) as response:
            task = json.loads(response.read())
        return ecs_owner(str(task["Cluster"]), str(task["TaskARN"]))
    except (OSError, ValueError, KeyError) as exc:  # no owner: the call is judged by its execution alone
        log.warning("ECS task metadata at %s unreadable (%s): calls this task claims record no owner", base, exc)
        return None


class Supervisor:
    """Decides whether an unfinished call's worker is gone; rate-limited per call (see the module doc).

    ``state_machines``: function tag -> its worker state machine's ARN (functions without one are
    judged by their ECS owner only)."""

    def __init__(self, state_machines: Mapping[str, str], check_every_s: float = DEFAULT_CHECK_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.state_machines, self.check_every_s, self._clock = dict(state_machines), check_every_s, clock
        self._quiet: dict[str, tuple[tuple[str, float], float]] = {}  # call -> (record's state, checked/seen at)
        self._lock = threading.Lock()  # map(order_outputs=False) reads calls from a thread pool

    def due(self, record: CallRecord) -> bool:
        """Whether to ask about ``record`` now: it has not changed for `check_every_s` (since this
        process last asked, or by its own ``updated_at`` when first seen)."""
        state, now = (record.status.value, record.updated_at), self._clock()
        with self._lock:
            seen = self._quiet.get(record.call_id)
            if seen is None or seen[0] != state:
                self._remember(record.call_id, state, now)
                return time.time() - record.updated_at >= self.check_every_s
            if now - seen[1] < self.check_every_s:
                return False
            self._quiet[record.call_id] = (state, now)
            return True

    def verdict(self, record: CallRecord) -> WorkerFailedError | None:
        """The error to settle ``record`` with if nothing will ever finish it, else None."""
        return self._execution_verdict(record) or self._task_verdict(record)

    def forget(self, call_id: str) -> None:
        with self._lock:
            self._quiet.pop(call_id, None)

    def _remember(self, call_id: str, state: tuple[str, float], now: float) -> None:
        if len(self._quiet) >= _REMEMBERED and call_id not in self._quiet:
            self._quiet.pop(next(iter(self._quiet)))  # dicts keep insertion order: the oldest goes
        self._quiet[call_id] = (state, now)

    def _execution_verdict(self, record: CallRecord) -> WorkerFailedError | None:
        machine = self.state_machines.get(record.function)
        if not machine:
            return None
        arn = execution_arn(machine, record.call_id)
        execution = _describe(lambda sfn: sfn.describe_execution(executionArn=arn), "stepfunctions",
                              ("ExecutionDoesNotExist",), arn)
        status = None if execution is None else str(execution.get("status"))
        if status not in ENDED_EXECUTION:
            return None
        detail = " ".join(str(execution.get(k)) for k in ("error", "cause") if execution and execution.get(k))
        cause = f"its Step Functions execution {arn} is {status}: it {_HOW[status]}" + (f" ({detail})" if detail else "")
        return WorkerFailedError(f"Execution{status.title().replace('_', '')}", cause, record.call_id)

    def _task_verdict(self, record: CallRecord) -> WorkerFailedError | None:
        if not record.owner or not record.owner.startswith(ECS_OWNER_PREFIX):
            return None
        cluster, _, task_arn = record.owner[len(ECS_OWNER_PREFIX):].partition("|")
        reply = _describe(lambda ecs: ecs.describe_tasks(cluster=cluster, tasks=[task_arn]), "ecs", (), task_arn)
        if reply is None:
            return None
        tasks = reply.get("tasks") or []
        if tasks and tasks[0].get("lastStatus") != "STOPPED":
            return None
        if not tasks and not any(f.get("reason") == "MISSING" for f in reply.get("failures") or []):
            return None  # not found for another reason (say, the wrong cluster): no verdict on a guess
        cause = f"the ECS task that ran it, {task_arn}, " + (_stopped(tasks[0]) if tasks else
                                                              "is gone (ECS keeps stopped tasks about an hour)")
        return WorkerFailedError("ECS.TaskStopped", cause + ". Call it again; if the task ran out of memory, "
                                 "raise memory= in @app.function(...).", record.call_id)


def _stopped(task: Mapping[str, Any]) -> str:
    """``stopped (<reason>; exit code N)``, from what DescribeTasks says about a STOPPED task."""
    exits = [f"{c.get('name')} exit code {c['exitCode']}" for c in task.get("containers") or [] if "exitCode" in c]
    reasons = [str(task["stoppedReason"])] if task.get("stoppedReason") else []
    return "stopped" + (f" ({'; '.join(reasons + exits)})" if reasons or exits else "")


def _describe(request: Callable[[Any], Any], service: str, missing: tuple[str, ...], what: str) -> Any:
    """A Describe* reply, or None when it cannot be had (``missing``: the thing does not exist; access
    denied or throttled: logged, and the call is simply not judged this time)."""
    api = client(service)
    try:
        return request(api)
    except api.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in missing:
            log.warning("cannot check %s (%s): %s", what, code, exc)
        return None

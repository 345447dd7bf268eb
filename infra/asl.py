"""The Step Functions definition (Amazon States Language) that runs one function's worker.

Pure and importable without Pulumi: the runtime's tests build the same definition.

An execution's input is ``{"call_id": "fc-...", "function": "<tag>"}``. The worker receives
the runtime's task contract ``{"toolkit_event": "worker_task", "call_id": ..., "function": tag}``:
as the Lambda payload, or, for ECS, as JSON in the container's ``TOOLKIT_WORKER_TASK``
environment variable. Results and errors live in the calls table, never in the execution
output (Step Functions caps payloads at 256 KiB), so every task discards its result
(``ResultPath: null``) and the execution ends with its input.

A worker that never records an outcome (Lambda killed by its timeout, an invoke failing past
its retries, an ECS task that cannot start or exits non-zero) would leave the call RUNNING and
every client polling forever. So the worker task catches ``States.ALL`` into ``MarkFailed``: a
``dynamodb:updateItem`` that sets the call FAILED, but only while it is still pending or
running (a worker that recorded a result first keeps it), writing the Step Functions error
name and cause into a marker attribute. The runtime's ``DynamoDBCallStore.get`` turns those
markers into the serialized ``RemoteError`` the SDK raises (Step Functions cannot run
cloudpickle). The execution then ends in ``WorkerFailed`` with the worker's own error.

The worker task is retried by the function's ``retries`` policy (`Retry`), and each try carries
its retry count (``$$.State.RetryCount``: ``attempt`` in the Lambda payload, `WORKER_ATTEMPT_ENV`
for an ECS task). The first try claims the PENDING call; a retry may also claim it back from the
try before it, which Step Functions only retries once it has stopped (a Lambda killed by its
timeout), so ``retries=`` works across timeouts instead of finding the call RUNNING and failing.
An execution that ends outside this Catch (StopExecution, or ``MarkFailed`` itself failing) is
settled by whoever reads the call (`runtime.callstore.supervision`).

A scheduled function that runs on ECS/GPU capacity is started by EventBridge Scheduler, which
can only start the execution: its input is ``{"function": "<tag>"}``, with no call id and no
record (`schedule_input`). For those state machines (``scheduled_app=``) the definition starts
with ``Route``: an input that carries ``call_id`` goes straight to the worker as above; one that
does not gets a fresh id (``States.UUID()``, hex only, so it is a valid ``fc-`` id) and a PENDING
record written by ``RecordScheduledCall`` (``dynamodb:putItem``, new ids only) before the worker
runs; from there the run is an ordinary call, ``MarkFailed`` included. Step Functions has no epoch
clock, so that record carries its time as ISO 8601 in `SCHEDULED_AT_ATTR` and no payload (a
schedule calls with no arguments); the runtime's DynamoDB store reads both, and gives the record
its TTL when the worker claims it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.environment import ContainerEnv

__all__ = [
    "ECS_START_ALLOWANCE",
    "ECS_RUN_TASK_SYNC",
    "LAMBDA_INVOKE",
    "FAILURE_ATTR",
    "FAILURE_TIME_ATTR",
    "SCHEDULED_AT_ATTR",
    "WORKER_ATTEMPT_ENV",
    "WORKER_COMMAND",
    "WORKER_TASK_ENV",
    "EcsTarget",
    "Retry",
    "build_definition",
    "schedule_input",
    "worker_task",
]

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
ECS_RUN_TASK_SYNC = "arn:aws:states:::ecs:runTask.sync"
DYNAMODB_UPDATE_ITEM = "arn:aws:states:::dynamodb:updateItem"
DYNAMODB_PUT_ITEM = "arn:aws:states:::dynamodb:putItem"
# The calls table's failure markers: runtime/callstore/dynamodb.py reads the same names
# (tests/runtime/test_worker_failure.py holds the two sides together).
FAILURE_ATTR = "sfn_error"  # JSON of the caught {"Error": ..., "Cause": ...}
FAILURE_TIME_ATTR = "sfn_failed_at"  # ISO 8601, when MarkFailed ran
SCHEDULED_AT_ATTR = "scheduled_at"  # ISO 8601, when RecordScheduledCall created the record
# Where the Catch puts {"Error", "Cause"}: beside the input, which still carries call_id.
_CAUGHT = "$.worker_error"
WORKER_TASK_ENV = ContainerEnv.name("worker_task")  # the container contract: runtime/environment.py
WORKER_ATTEMPT_ENV = ContainerEnv.name("worker_attempt")
# Which try of the worker task this is (0 first): the runtime lets a retry take back a call the
# attempt before it claimed and never finished (a Lambda killed by its timeout, a stopped task).
_RETRY_COUNT = "$$.State.RetryCount"
WORKER_COMMAND = ("python", "-m", "runtime.entrypoints.worker_task")
# An ECS task first waits for capacity (a GPU instance may boot from zero) and an image pull:
# the function's timeout must not be eaten by that.
ECS_START_ALLOWANCE = 600

# Lambda's own transient failures: always worth a retry, whatever the user asked for.
_LAMBDA_TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


@dataclass(frozen=True)
class Retry:
    """The manifest's ``retries`` block."""

    max_retries: int
    backoff_coefficient: float = 2.0
    initial_delay: float = 1.0
    max_delay: float = 60.0


@dataclass(frozen=True)
class EcsTarget:
    """Where an ECS worker task runs: Fargate, or an EC2 capacity provider for GPUs."""

    cluster: str
    task_definition: str
    container: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    capacity_provider: str | None = None  # None: Fargate
    assign_public_ip: bool = True  # Fargate in the default VPC, whose subnets have no NAT gateway
    network_mode: str = "awsvpc"  # "bridge": GPU tasks on EC2 (infra/components/ecs.py says why)


def worker_task(tag: str, *, attempt: bool = False) -> dict[str, Any]:
    """The worker input contract, in ASL ``Parameters`` notation.  ``attempt``: with the task's retry
    count (only the retried Task state itself knows it; an ECS worker gets it in `WORKER_ATTEMPT_ENV`)."""
    task = {"toolkit_event": "worker_task", "call_id.$": "$.call_id", "function": tag}
    return task | {"attempt.$": _RETRY_COUNT} if attempt else task


def schedule_input(tag: str) -> dict[str, Any]:
    """What EventBridge Scheduler starts a scheduled ECS/GPU function's state machine with."""
    return {"function": tag}


def _route(first: str) -> dict[str, Any]:
    """An ordinary call brings its id; a scheduled run does not, and gets one first."""
    return {
        "Type": "Choice",
        "Choices": [{"Variable": "$.call_id", "IsPresent": True, "Next": first}],
        "Default": "NewCallId",
    }


def _new_call_id(tag: str) -> dict[str, dict[str, Any]]:
    """Two Pass states: a UUID's hex groups, then ``fc-<32 hex>`` (`runtime.callstore.base.is_call_id`)."""
    groups = ", ".join(f"States.ArrayGetItem($.uuid, {i})" for i in range(5))
    return {
        "NewCallId": {
            "Type": "Pass",
            "Parameters": {"uuid.$": "States.StringSplit(States.UUID(), '-')"},
            "Next": "NameScheduledCall",
        },
        "NameScheduledCall": {
            "Type": "Pass",
            # the tag is this state machine's own, whatever the input says
            "Parameters": {"call_id.$": f"States.Format('fc-{{}}{{}}{{}}{{}}{{}}', {groups})", "function": tag},
            "Next": "RecordScheduledCall",
        },
    }


def _record_scheduled_call(tag: str, app: str, calls_table: str, first: str) -> dict[str, Any]:
    """putItem: the PENDING record the worker claims, as `DynamoDBCallStore.create` would write it
    but for the time (ISO, see the module doc) and the payload (none: no arguments)."""
    return {
        "Type": "Task",
        "Resource": DYNAMODB_PUT_ITEM,
        "Parameters": {
            "TableName": calls_table,
            "Item": {
                "call_id": {"S.$": "$.call_id"}, "app": {"S": app}, "function": {"S": tag},
                "status": {"S": "pending"}, SCHEDULED_AT_ATTR: {"S.$": "$$.State.EnteredTime"},
            },
            "ConditionExpression": "attribute_not_exists(call_id)",  # a fresh id: never overwrite a call
        },
        "ResultPath": None,
        # throttling or a transient DynamoDB error; nothing runs without the record
        "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}],
        "Next": first,
    }


def _scheduled_entry(tag: str, app: str, calls_table: str, first: str) -> dict[str, dict[str, Any]]:
    return {"Route": _route(first), **_new_call_id(tag),
            "RecordScheduledCall": _record_scheduled_call(tag, app, calls_table, first)}


def _retriers(worker: str, retry: Retry | None) -> list[dict[str, Any]]:
    retriers: list[dict[str, Any]] = []
    if worker == "lambda":
        retriers.append(
            {"ErrorEquals": _LAMBDA_TRANSIENT, "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}
        )
    if retry and retry.max_retries > 0:
        retriers.append(
            {
                "ErrorEquals": ["States.ALL"],  # must be alone and last
                "IntervalSeconds": max(1, round(retry.initial_delay)),
                "MaxAttempts": retry.max_retries,
                "BackoffRate": max(1.0, retry.backoff_coefficient),
                "MaxDelaySeconds": max(1, round(retry.max_delay)),
            }
        )
    return retriers


def _mark_failed(calls_table: str) -> dict[str, Any]:
    """updateItem: PENDING/RUNNING -> FAILED with the caught error; a finished call is left alone."""
    return {
        "Type": "Task",
        "Resource": DYNAMODB_UPDATE_ITEM,
        "Parameters": {
            "TableName": calls_table,
            "Key": {"call_id": {"S.$": "$.call_id"}},
            "UpdateExpression": "SET #st = :failed, #err = :err, #at = :at",
            "ConditionExpression": "attribute_exists(call_id) AND #st IN (:pending, :running)",
            "ExpressionAttributeNames": {
                "#st": "status", "#err": FAILURE_ATTR, "#at": FAILURE_TIME_ATTR,
            },
            "ExpressionAttributeValues": {
                ":failed": {"S": "failed"}, ":pending": {"S": "pending"}, ":running": {"S": "running"},
                # the whole object: a Catch result may lack "Cause", and a missing path would be
                # States.Runtime, which no Catch catches
                ":err": {"S.$": f"States.JsonToString({_CAUGHT})"},
                ":at": {"S.$": "$$.State.EnteredTime"},
            },
        },
        "ResultPath": None,
        # Condition failed (the call already finished) or the table is unreachable: either way
        # the execution still ends failed, with the worker's error, not the bookkeeping one.
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "WorkerFailed"}],
        "Next": "WorkerFailed",
    }


def _worker_failed() -> dict[str, Any]:
    return {
        "Type": "Fail",
        "ErrorPath": f"{_CAUGHT}.Error",  # always set by a Catch, unlike Cause
        "Cause": f"The worker recorded no result; the call is marked failed with this error in {FAILURE_ATTR}.",
    }


def _lambda_task(tag: str, function_arn: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": function_arn, "Payload": worker_task(tag, attempt=True)},
    }


def _network_configuration(target: EcsTarget) -> dict[str, Any] | None:
    """RunTask's awsvpc block. None in bridge mode (ECS rejects it there). ``AssignPublicIp`` only
    on Fargate: ECS refuses it for tasks placed by an EC2 capacity provider."""
    if target.network_mode != "awsvpc":
        return None
    awsvpc: dict[str, Any] = {"Subnets": list(target.subnets), "SecurityGroups": list(target.security_groups)}
    if not target.capacity_provider:
        awsvpc["AssignPublicIp"] = "ENABLED" if target.assign_public_ip else "DISABLED"
    return {"AwsvpcConfiguration": awsvpc}


def _ecs_parameters(target: EcsTarget) -> dict[str, Any]:
    params: dict[str, Any] = {"Cluster": target.cluster, "TaskDefinition": target.task_definition}
    if (network := _network_configuration(target)) is not None:
        params["NetworkConfiguration"] = network
    params["Overrides"] = {
        "ContainerOverrides": [
            {
                "Name": target.container,
                "Command": list(WORKER_COMMAND),
                "Environment": [
                    {"Name": WORKER_TASK_ENV, "Value.$": "States.JsonToString($.worker_task)"},
                    {"Name": WORKER_ATTEMPT_ENV, "Value.$": f"States.Format('{{}}', {_RETRY_COUNT})"},
                ],
            }
        ]
    }
    if target.capacity_provider:
        params["CapacityProviderStrategy"] = [{"CapacityProvider": target.capacity_provider, "Weight": 1}]
    else:
        params["LaunchType"] = "FARGATE"
    return params


def build_definition(
    *,
    tag: str,
    timeout: int,
    calls_table: str,
    retry: Retry | None = None,
    function_arn: str | None = None,
    ecs: EcsTarget | None = None,
    partition: str = "aws",
    scheduled_app: str | None = None,
) -> dict[str, Any]:
    """ASL for the worker of function ``tag``: a Lambda invoke, or ``ecs:runTask.sync``.

    Give exactly one of ``function_arn`` (Lambda worker) and ``ecs`` (ECS worker).
    ``timeout`` is the function's ``resources.timeout``, seconds; ``calls_table`` the DynamoDB
    calls table the failure marker is written to; ``partition`` the ARN partition of the
    region (service integrations are ``arn:aws-cn:states:::...`` in China, for example).
    ``scheduled_app``: the app's name, for a function EventBridge Scheduler starts through this
    state machine; the definition then also accepts `schedule_input` (see the module doc).
    """
    if (function_arn is None) == (ecs is None):
        raise ValueError("build_definition needs exactly one of function_arn= and ecs=")
    states: dict[str, Any] = {}
    if ecs is not None:
        # runTask cannot build JSON from a template: a Pass state makes the task object first.
        states["BuildWorkerTask"] = {
            "Type": "Pass",
            "Parameters": worker_task(tag),
            "ResultPath": "$.worker_task",
            "Next": "RunWorker",
        }
        task: dict[str, Any] = {"Type": "Task", "Resource": ECS_RUN_TASK_SYNC, "Parameters": _ecs_parameters(ecs)}
        task_timeout = timeout + ECS_START_ALLOWANCE
    else:
        task = _lambda_task(tag, function_arn or "")
        task_timeout = timeout
    task.update({"TimeoutSeconds": task_timeout, "ResultPath": None, "End": True})
    retriers = _retriers("ecs" if ecs else "lambda", retry)
    if retriers:
        task["Retry"] = retriers
    task["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": _CAUGHT, "Next": "MarkFailed"}]
    states["RunWorker"] = task
    states["MarkFailed"] = _mark_failed(calls_table)
    states["WorkerFailed"] = _worker_failed()
    first = "BuildWorkerTask" if ecs else "RunWorker"
    if scheduled_app is not None:
        states.update(_scheduled_entry(tag, scheduled_app, calls_table, first))
    if partition != "aws":
        for state in states.values():
            if "Resource" in state:
                state["Resource"] = state["Resource"].replace("arn:aws:", f"arn:{partition}:", 1)
    return {
        "Comment": f"toolkit worker for {tag}",
        "StartAt": first if scheduled_app is None else "Route",
        "States": states,
    }

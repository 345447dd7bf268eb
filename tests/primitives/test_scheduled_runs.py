"""Scheduled ECS/GPU runs on moto: EventBridge Scheduler's input, the deployed state machine, the call record.

EventBridge Scheduler can only start the worker state machine, with ``{"function": tag}``
(`infra.asl.schedule_input`). The definition is the one infra deploys for a scheduled ECS function
(``scheduled_app=``), executed by moto server, with the one substitution tests/infra/test_asl_moto.py
explains: moto cannot run ``ecs:runTask.sync``, so ``RunWorker`` becomes a ``dynamodb:putItem`` of
the very string the container would get in ``TOOLKIT_WORKER_TASK`` (or, for the failure path, a
``dynamodb:getItem`` on a missing table, which fails). ``Route``, ``NewCallId``,
``NameScheduledCall``, ``RecordScheduledCall`` and ``MarkFailed`` run as emitted, against the calls
table the runtime reads; the worker task is then run by the real runtime handler in this process.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deployed_app import function, write_app  # tests/runtime, on the path from this folder's conftest
from moto_support import finished_execution, reset, use_moto

from infra import asl
from infra.asl import EcsTarget, build_definition, schedule_input
from runtime import lambda_handler
from runtime.awsclients import client, reset_clients
from runtime.callstore import CallStatus
from runtime.callstore import dynamodb as ddb_store
from runtime.callstore.base import is_call_id
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.serialization import RemoteError, deserialize

TAG = "tick"
TASKS_TABLE = "worker-tasks"  # where the substituted RunWorker writes the container's worker task
ECS = EcsTarget(cluster="arn:aws:ecs:us-east-1:123456789012:cluster/toolkit",
                task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/tick:1",
                container="function", subnets=("subnet-1",), security_groups=("sg-1",))


@pytest.fixture
def calls_aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A calls table (as infra declares it) on a freshly reset moto that runs executions: its name.
    Reset per test: moto 5.2.1 runs only the first StartExecution of a server's lifetime."""
    use_moto(monkeypatch, moto_endpoint)
    reset(moto_endpoint)
    table = f"toolkit-calls-{uuid.uuid4().hex[:8]}"
    for name, key in ((table, "call_id"), (TASKS_TABLE, "call_id")):
        client("dynamodb").create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}])
    client("dynamodb").update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    monkeypatch.setenv("TOOLKIT_CALLS_TABLE", table)
    yield table
    reset_clients()


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The runtime as a deployed ECS worker task of ``tick`` sees it (``tick()`` takes no arguments)."""
    write_app(tmp_path, [function(TAG)])
    with (tmp_path / "user_app.py").open("a") as source:
        source.write("\ndef tick():\n    return {'ticked': True}\n")
    monkeypatch.setenv("TOOLKIT_MANIFEST", str(tmp_path / "manifest.json"))
    monkeypatch.setenv("TOOLKIT_APP_ROOT", str(tmp_path))
    monkeypatch.setenv("TOOLKIT_FUNCTION", TAG)
    lambda_handler.shutdown()
    yield
    lambda_handler.shutdown()


def _definition(table: str, worker: dict[str, Any]) -> dict[str, Any]:
    """The deployed definition with only ``RunWorker``'s ``Resource``/``Parameters`` replaced."""
    definition = build_definition(tag=TAG, timeout=60, calls_table=table, ecs=ECS, scheduled_app="sched")
    task = definition["States"]["RunWorker"]
    assert task["Resource"] == asl.ECS_RUN_TASK_SYNC and task["Catch"][0]["Next"] == "MarkFailed"
    task.update(worker)
    return definition


def _records_the_worker_task() -> dict[str, Any]:
    env = "States.JsonToString($.worker_task)"  # what the container override's Value.$ is
    return {"Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": TASKS_TABLE,
                           "Item": {"call_id": {"S.$": "$.call_id"}, "worker_task": {"S.$": env}}}}


def _fails() -> dict[str, Any]:
    return {"Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName": "toolkit-worker-gone", "Key": {"call_id": {"S.$": "$.call_id"}}}}


def _run(definition: dict[str, Any], execution_input: dict[str, Any]) -> dict[str, Any]:
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(name=f"sched-tick-{uuid.uuid4().hex[:6]}", definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/toolkit-sfn")["stateMachineArn"]
    execution_arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input))["executionArn"]
    return finished_execution(sfn, execution_arn)


def _only_call(table: str) -> dict[str, Any]:
    items = client("dynamodb").scan(TableName=table)["Items"]
    assert len(items) == 1, items
    return dict(items[0])


def test_attribute_names_agree_between_infra_and_runtime() -> None:
    assert asl.SCHEDULED_AT_ATTR == ddb_store.SCHEDULED_AT_ATTR


def test_a_scheduled_run_without_a_call_id_becomes_a_call_the_worker_completes(calls_aws: str, deployed: None) -> None:
    started = time.time()
    execution = _run(_definition(calls_aws, _records_the_worker_task()), schedule_input(TAG))

    assert execution["status"] == "SUCCEEDED", execution
    item = _only_call(calls_aws)
    call_id = item["call_id"]["S"]
    assert is_call_id(call_id)
    assert (item["app"]["S"], item["function"]["S"], item["status"]["S"]) == ("sched", TAG, "pending")
    task = client("dynamodb").get_item(TableName=TASKS_TABLE, Key={"call_id": {"S": call_id}})["Item"]
    worker_task = json.loads(task["worker_task"]["S"])
    assert worker_task == {"toolkit_event": "worker_task", "call_id": call_id, "function": TAG}

    reply = lambda_handler.handler(worker_task, None)  # what the ECS task runs with TOOLKIT_WORKER_TASK

    assert reply == {"call_id": call_id, "status": "done"}
    record = DynamoDBCallStore.from_env().get(call_id)
    assert record is not None and record.status is CallStatus.DONE
    assert deserialize(record.result or b"") == {"ticked": True}
    assert started - 5 <= record.created_at <= record.updated_at  # the scheduled time, read from ISO 8601
    expires = int(_only_call(calls_aws)["expires_at"]["N"])  # the worker gave it the table's TTL
    assert expires > time.time() + 3600


def test_a_scheduled_run_whose_worker_fails_is_recorded_failed(calls_aws: str) -> None:
    execution = _run(_definition(calls_aws, _fails()), schedule_input(TAG))

    assert execution["status"] == "FAILED" and execution.get("error") == "DynamoDB.ResourceNotFoundException"
    call_id = _only_call(calls_aws)["call_id"]["S"]
    record = DynamoDBCallStore.from_env().get(call_id)
    assert record is not None and record.status is CallStatus.FAILED and record.function == TAG
    error = deserialize(record.result or b"")
    assert isinstance(error, RemoteError) and error.type_name == "DynamoDB.ResourceNotFoundException"


def test_an_ordinary_call_through_a_scheduled_machine_records_nothing_new(calls_aws: str) -> None:
    execution = _run(_definition(calls_aws, _records_the_worker_task()), {"call_id": "fc-given1", "function": TAG})

    assert execution["status"] == "SUCCEEDED", execution
    assert client("dynamodb").scan(TableName=calls_aws)["Items"] == []  # its caller wrote its record
    task = client("dynamodb").get_item(TableName=TASKS_TABLE, Key={"call_id": {"S": "fc-given1"}})["Item"]
    assert json.loads(task["worker_task"]["S"])["call_id"] == "fc-given1"

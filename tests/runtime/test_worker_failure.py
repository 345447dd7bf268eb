"""A worker that stops without a result must not leave its call RUNNING (infra/asl.py ``MarkFailed``).

The state machine is the one infra deploys, executed by moto server, with one substitution:
moto does not run Lambda code (its invoke answers with the event, even for a function that does
not exist), so the ``RunWorker`` task's ``Resource``/``Parameters`` become a ``dynamodb:getItem``
on a missing table, which moto executes and fails (``DynamoDB.ResourceNotFoundException``).
Its ``Retry``, ``TimeoutSeconds``, ``Catch``, ``MarkFailed`` and ``WorkerFailed`` are as
emitted; moto runs the ``dynamodb:updateItem`` for real, against the calls table the runtime reads.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from deployed_app import function, write_app
from moto_support import finished_execution

from infra import asl
from infra.asl import LAMBDA_INVOKE, Retry, build_definition
from runtime import lambda_handler
from runtime.awsclients import client
from runtime.callstore import CallStatus, new_call_id
from runtime.callstore import dynamodb as ddb_store
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.cloud_client import CloudFunctionCall, CloudTransport, FunctionTarget
from runtime.invocation import encode_args
from runtime.serialization import RemoteError, WorkerFailedError, deserialize, serialize
from runtime.stepfunctions import start_execution

WORKER_ERROR = "DynamoDB.ResourceNotFoundException"


def test_marker_attribute_names_agree_between_infra_and_runtime() -> None:
    assert (asl.FAILURE_ATTR, asl.FAILURE_TIME_ATTR) == (ddb_store.FAILURE_ATTR, ddb_store.FAILURE_TIME_ATTR)


def with_failing_worker(definition: dict[str, Any]) -> dict[str, Any]:
    task = definition["States"]["RunWorker"]
    assert task["Resource"] == LAMBDA_INVOKE and task["Catch"][0]["Next"] == "MarkFailed"
    task.update(Resource="arn:aws:states:::dynamodb:getItem",
                Parameters={"TableName": "toolkit-worker-gone", "Key": {"call_id": {"S.$": "$.call_id"}}})
    return definition


def _machine(table: str, retry: Retry | None = None) -> str:
    definition = with_failing_worker(
        build_definition(tag="add", timeout=60, calls_table=table, retry=retry, function_arn="arn:aws:lambda:fn"))
    return str(client("stepfunctions").create_state_machine(
        name=f"toolkit-add-{new_call_id()}", definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/toolkit-sfn")["stateMachineArn"])


def test_failed_worker_marks_the_call_failed_and_the_sdk_raises_the_step_functions_error(aws: Any) -> None:
    store, call_id = DynamoDBCallStore.from_env(), new_call_id()
    store.create(call_id, "demo", "add", encode_args((1, 2), {}))
    store.mark_running(call_id)  # as if a worker had claimed it and then been killed
    machine = _machine(aws.table, Retry(max_retries=1, initial_delay=1))

    execution = finished_execution(client("stepfunctions"), start_execution(machine, call_id, "add"))

    assert execution["status"] == "FAILED", execution
    assert execution.get("error") == WORKER_ERROR, execution
    record = store.get(call_id)
    assert record is not None and record.status is CallStatus.FAILED
    assert record.updated_at >= record.created_at
    error = deserialize(record.result or b"")
    assert isinstance(error, RemoteError) and error.type_name == WORKER_ERROR
    transport = CloudTransport("demo", store, {"add": FunctionTarget("add", state_machine_arn=machine)})
    with pytest.raises(WorkerFailedError, match=r"Step Functions error DynamoDB\.ResourceNotFoundException") as caught:
        CloudFunctionCall.from_id(call_id, transport).get(timeout=0)
    assert caught.value.call_id == call_id and caught.value.cause  # the cause as Step Functions gave it


def test_a_result_recorded_before_the_failure_is_kept(aws: Any) -> None:
    store, call_id = DynamoDBCallStore.from_env(), new_call_id()
    store.create(call_id, "demo", "add", encode_args((1, 2), {}))
    store.mark_running(call_id)
    store.complete(call_id, CallStatus.DONE, serialize(3))  # the worker finished, then its invoke "failed"

    execution = finished_execution(client("stepfunctions"), start_execution(_machine(aws.table), call_id, "add"))

    assert execution["status"] == "FAILED"  # MarkFailed's condition fails; the execution still reports it
    record = store.get(call_id)
    assert record is not None and record.status is CallStatus.DONE and deserialize(record.result or b"") == 3
    item = client("dynamodb").get_item(TableName=aws.table, Key={"call_id": {"S": call_id}})["Item"]
    assert ddb_store.FAILURE_ATTR not in item


def test_store_reads_a_lambda_timeout_marker(aws: Any) -> None:
    """The marker as Step Functions writes it for a Lambda killed by its timeout (cause is Lambda's JSON)."""
    store, call_id = DynamoDBCallStore.from_env(), new_call_id()
    store.create(call_id, "demo", "add", encode_args((), {}))
    cause = json.dumps({"errorMessage": "2024-01-01T00:00:00.000Z abc Task timed out after 900.00 seconds",
                        "errorType": "Sandbox.Timedout"})
    client("dynamodb").update_item(
        TableName=aws.table, Key={"call_id": {"S": call_id}},
        UpdateExpression="SET #st = :f, sfn_error = :e, sfn_failed_at = :t",
        ExpressionAttributeNames={"#st": "status"},
        ExpressionAttributeValues={":f": {"S": "failed"}, ":e": {"S": json.dumps({"Error": "States.TaskFailed", "Cause": cause})},
                                   ":t": {"S": "2030-01-01T00:00:00.000Z"}})
    record = store.get(call_id)
    assert record is not None and record.status is CallStatus.FAILED and record.updated_at == 1893456000.0
    error = deserialize(record.result or b"")
    assert isinstance(error.exception, WorkerFailedError)
    assert "States.TaskFailed" in str(error.exception) and "Sandbox.Timedout: " in str(error.exception)
    assert "timed out after 900.00 seconds" in error.message


# -- the worker side: a task that cannot record an outcome fails the Lambda invoke --------------------

@pytest.fixture
def deployed(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TOOLKIT_MANIFEST", str(write_app(tmp_path, [function("add")])))
    monkeypatch.setenv("TOOLKIT_APP_ROOT", str(tmp_path))
    lambda_handler.shutdown()
    yield monkeypatch
    lambda_handler.shutdown()


def test_worker_task_on_an_abandoned_running_call_raises(aws: Any, deployed: pytest.MonkeyPatch) -> None:
    deployed.setenv("TOOLKIT_FUNCTION", "add")
    store, call_id = DynamoDBCallStore.from_env(), new_call_id()
    store.create(call_id, "demo", "add", encode_args((1, 2), {}))
    store.mark_running(call_id)  # the first attempt was killed after claiming the call
    with pytest.raises(lambda_handler.AbandonedCallError, match=f"Call {call_id} is still running"):
        lambda_handler.handler({"toolkit_event": "worker_task", "call_id": call_id, "function": "add"}, None)


def test_worker_task_in_a_broken_deployment_raises_instead_of_replying(deployed: pytest.MonkeyPatch) -> None:
    deployed.setenv("TOOLKIT_FUNCTION", "missing")
    task = {"toolkit_event": "worker_task", "call_id": new_call_id(), "function": "missing"}
    with pytest.raises(Exception, match="'missing' is not in the manifest"):
        lambda_handler.handler(task, None)
    # web and call events still get a reply naming the problem
    assert lambda_handler.handler({"toolkit_event": "call", "function": "missing", "payload_b64": ""}, None)["statusCode"] == 500

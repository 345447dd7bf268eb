"""The worker state machine infra deploys (infra/asl.py ``build_definition``), executed by moto.

moto executes Step Functions but not Lambda code, so the ``lambda:invoke`` task is swapped
for a ``dynamodb:putItem`` task (which moto executes) that stores exactly the Payload the
Lambda would have received.  The test then hands that payload to the real handler.
"""

from __future__ import annotations

import json
from typing import Any

from deployed_app import function, write_app
from moto_support import finished_execution

from infra.asl import LAMBDA_INVOKE, build_definition
from runtime import lambda_handler
from runtime.awsclients import client
from runtime.callstore import CallStatus, new_call_id
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.invocation import encode_args
from runtime.serialization import deserialize
from runtime.stepfunctions import start_execution

CAPTURE_TABLE = "captured-worker-tasks"


def with_captured_payload(definition: dict[str, Any]) -> dict[str, Any]:
    task = definition["States"]["RunWorker"]
    assert task["Resource"] == LAMBDA_INVOKE
    payload = task["Parameters"]["Payload"]
    item = {"call_id": {"S.$": "$.call_id"}, "toolkit_event": {"S": payload["toolkit_event"]},
            "function": {"S": payload["function"]}}
    assert payload["call_id.$"] == "$.call_id"
    task.update(Resource="arn:aws:states:::dynamodb:putItem", Parameters={"TableName": CAPTURE_TABLE, "Item": item})
    return definition


def test_worker_state_machine_succeeds_and_its_payload_runs_the_call(aws: Any, tmp_path: Any, monkeypatch: Any) -> None:
    client("dynamodb").create_table(
        TableName=CAPTURE_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "call_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "call_id", "KeyType": "HASH"}])
    definition = with_captured_payload(build_definition(tag="add", timeout=60, calls_table="calls", function_arn="arn:aws:lambda:fn"))
    machine = client("stepfunctions").create_state_machine(
        name="toolkit-add", definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/toolkit-sfn")["stateMachineArn"]
    store, call_id = DynamoDBCallStore.from_env(), new_call_id()
    store.create(call_id, "demo", "add", encode_args((1, 2), {}))

    execution = finished_execution(client("stepfunctions"), start_execution(machine, call_id, "add"), timeout=20)
    assert execution["status"] == "SUCCEEDED", execution

    captured = client("dynamodb").get_item(TableName=CAPTURE_TABLE, Key={"call_id": {"S": call_id}})["Item"]
    task = {k: v["S"] for k, v in captured.items()}
    assert task == {"toolkit_event": "worker_task", "call_id": call_id, "function": "add"}
    monkeypatch.setenv("TOOLKIT_MANIFEST", str(write_app(tmp_path, [function("add")])))
    monkeypatch.setenv("TOOLKIT_FUNCTION", "add")
    monkeypatch.setenv("TOOLKIT_APP_ROOT", str(tmp_path))
    lambda_handler.shutdown()
    try:
        assert lambda_handler.handler(task, None) == {"call_id": call_id, "status": "done"}
    finally:
        lambda_handler.shutdown()
    record = store.get(call_id)
    assert record is not None and record.status is CallStatus.DONE and deserialize(record.result or b"") == 3

"""The cloud client against moto: spawn/get/map through Step Functions + DynamoDB, remote via Lambda.

moto does not run Lambda code, so the worker is played in-process by `execute_stored_call`
-- the same function the Lambda worker task calls.  Executions are recorded, not run
(`recorded_executions`: moto 5.2.1 fails a second executed StartExecution); the executed
path is covered in test_stepfunctions.py.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from state_machines import pass_state_machine

from runtime import lambda_handler
from runtime.awsclients import client
from runtime.callstore import CallStatus
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.cloud_client import (
    CloudFunctionCall,
    CloudTransport,
    FunctionTarget,
    InvocationError,
    lambda_invoker,
)
from runtime.worker import call_function, execute_stored_call


def slow_square(x: int) -> int:
    if x < 0:
        raise ArithmeticError(f"negative: {x}")
    return x * x


@pytest.fixture
def transport(recorded_executions: Any) -> CloudTransport:
    targets = {"slow_square": FunctionTarget("slow_square", state_machine_arn=pass_state_machine("worker"))}
    return CloudTransport("demo", DynamoDBCallStore.from_env(), targets)


def work(transport: CloudTransport, call_id: str) -> CallStatus:
    return execute_stored_call(transport.store, call_id, lambda payload: call_function(slow_square, payload))


def test_spawn_poll_then_get(transport: CloudTransport) -> None:
    call_id = transport.spawn("slow_square", (12,))
    call = CloudFunctionCall.from_id(call_id, transport)
    with pytest.raises(TimeoutError):
        call.get(timeout=0)  # pending: the reference's 202-polling pattern relies on this
    executions = client("stepfunctions").list_executions(
        stateMachineArn=transport.targets["slow_square"].state_machine_arn)["executions"]
    assert [e["name"] for e in executions] == [call_id]
    assert work(transport, call_id) is CallStatus.DONE
    assert call.get(timeout=0) == 144


def test_get_waits_for_a_worker_finishing_later(transport: CloudTransport) -> None:
    call_id = transport.spawn("slow_square", (5,))
    threading.Timer(0.3, work, (transport, call_id)).start()
    assert CloudFunctionCall.from_id(call_id, transport).get(timeout=10) == 25


def test_failed_call_raises_the_user_exception(transport: CloudTransport) -> None:
    call_id = transport.spawn("slow_square", (-1,))
    work(transport, call_id)
    with pytest.raises(ArithmeticError, match="negative: -1"):
        transport.get(call_id, timeout=0)


def test_map_orders_outputs_and_returns_exceptions(transport: CloudTransport) -> None:
    results = transport.map("slow_square", [(1,), (-2,), (3,)], return_exceptions=True)
    pending = list(_pending_calls(transport))
    for call_id in reversed(pending):  # finish in reverse order: output order must still follow input
        work(transport, call_id)
    out = list(results)
    assert out[0] == 1 and isinstance(out[1], ArithmeticError) and out[2] == 9


def _pending_calls(transport: CloudTransport) -> list[str]:
    items = client("dynamodb").scan(TableName=transport.store.table)["Items"]  # type: ignore[attr-defined]
    return sorted((i["call_id"]["S"] for i in items if i["status"]["S"] == "pending"),
                  key=lambda c: next(float(i["created_at"]["N"]) for i in items if i["call_id"]["S"] == c))


def test_map_unordered_yields_every_result(transport: CloudTransport) -> None:
    results = transport.map("slow_square", [(2,), (4,)], order_outputs=False)
    for call_id in _pending_calls(transport):
        work(transport, call_id)
    assert sorted(results) == [4, 16]


def test_remote_through_the_real_handler(aws: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from deployed_app import function, write_app

    monkeypatch.setenv("TOOLKIT_MANIFEST", str(write_app(tmp_path, [function("add")])))
    monkeypatch.setenv("TOOLKIT_FUNCTION", "add")
    monkeypatch.setenv("TOOLKIT_APP_ROOT", str(tmp_path))
    lambda_handler.shutdown()
    try:
        # the invoker stands in for the Lambda service: same event in, same reply out
        transport = CloudTransport("demo", DynamoDBCallStore.from_env(), {"add": FunctionTarget("add", "arn:fn")},
                                   invoker=lambda arn, event: lambda_handler.handler(json.loads(json.dumps(event)), None))
        assert transport.remote("add", ("x" * 400_000,), {"b": "y"}) == "x" * 400_000 + "y"  # S3 both ways
    finally:
        lambda_handler.shutdown()


def test_lambda_invoker_sends_the_call_event_to_lambda(aws: Any) -> None:
    import io
    import zipfile

    role = client("iam").create_role(RoleName="toolkit-fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("h.py", "def handler(event, context):\n    return event\n")
    arn = client("lambda").create_function(FunctionName="echo", Runtime="python3.11", Role=role, Handler="h.handler",
                                           Code={"ZipFile": code.getvalue()})["FunctionArn"]
    # moto answers a non-docker invoke with the event itself: proof of what we sent
    assert lambda_invoker(arn, {"toolkit_event": "call", "function": "f"}) == {"toolkit_event": "call", "function": "f"}
    transport = CloudTransport("demo", DynamoDBCallStore.from_env(), {"f": FunctionTarget("f", arn)})
    with pytest.raises(InvocationError, match="Unexpected reply"):
        transport.remote("f", (1,))

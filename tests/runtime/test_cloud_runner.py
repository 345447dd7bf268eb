"""Inside a deployed function, the SDK's ``.spawn/.remote/.map`` and ``FunctionCall.from_id().get()``
go through AWS (toolkit/runner.py `CloudRunner` over `CloudTransport`), not local worker pools.

The user app is a real toolkit app: ``parent`` calls ``child`` through the SDK.  The handler
runs in-process with the environment infra gives every function (``TOOLKIT_FUNCTION_TARGETS``
among it) and boto3 pointed at moto.  moto records Step Functions executions without running
them, so the child's worker is played by the real handler serving ``child`` (a worker task).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from deployed_app import function
from state_machines import pass_state_machine

from runtime import lambda_handler
from runtime.awsclients import client
from runtime.callstore import CallStatus
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.cloud_client import TARGETS_ENV
from runtime.invocation import call_event, encode_args
from runtime.serialization import deserialize

SDK_APP = '''
import toolkit

app = toolkit.App("demo")

@app.function()
def child(x):
    return x * 2

@app.function()
def spawn_child(x):
    return child.spawn(x).object_id

@app.function()
def fan_out(n):
    return list(child.map(range(n))) + [child.remote(100)]

@app.function()
def collect(call_id):
    return toolkit.FunctionCall.from_id(call_id).get(timeout=0)
'''

Deploy = Callable[[str], None]


@pytest.fixture
def deploy(recorded_executions: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deploy]:
    """``deploy(tag)``: this process becomes the deployed function ``tag`` of the SDK app."""
    (tmp_path / "sdk_app.py").write_text(SDK_APP)
    manifest = {"schema_version": 1, "app": {"name": "demo", "source": {
        "kind": "file", "path": "sdk_app.py", "module": "sdk_app", "app_variable": "app"}},
        "functions": [function(t) for t in ("child", "spawn_child", "fan_out", "collect")]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("TOOLKIT_MANIFEST", str(tmp_path / "manifest.json"))
    monkeypatch.setenv("TOOLKIT_APP_ROOT", str(tmp_path))
    # as infra passes it: child has no Lambda alias here, so .remote() spawns and waits too
    monkeypatch.setenv(TARGETS_ENV, json.dumps({"child": {"lambda_arn": None, "state_machine_arn": pass_state_machine("demo-child-worker")}}))

    def _deploy(tag: str) -> None:
        lambda_handler.shutdown()
        monkeypatch.setenv("TOOLKIT_FUNCTION", tag)

    yield _deploy
    lambda_handler.shutdown()
    sys.modules.pop("sdk_app", None)


def invoke(tag: str, *args: Any) -> Any:
    reply = lambda_handler.handler(call_event(tag, payload=encode_args(args, {})), None)
    assert reply["toolkit_result"] == "ok", deserialize(base64.b64decode(reply["error_b64"]))
    return deserialize(base64.b64decode(reply["result_b64"]))


def play_child_worker(call_id: str) -> Any:
    """What the child's state machine does: a worker task to the child's environment (its own
    `FunctionService`, since this process's module-level one serves the caller)."""
    from runtime.deployment import load_deployment

    service = lambda_handler.FunctionService(load_deployment(tag="child"))
    return service.handle({"toolkit_event": "worker_task", "call_id": call_id, "function": "child"}, None)


def test_spawn_inside_a_deployed_function_starts_the_childs_worker(deploy: Deploy) -> None:
    deploy("spawn_child")
    call_id = invoke("spawn_child", 21)
    store = DynamoDBCallStore.from_env()
    record = store.get(call_id)
    assert record is not None and (record.app, record.function, record.status) == ("demo", "child", CallStatus.PENDING)
    machine = json.loads(os.environ[TARGETS_ENV])["child"]["state_machine_arn"]
    executions = client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == [call_id]  # a Step Functions worker, not a local process
    from toolkit.local import runner as local

    # No worker pool for this app was started in the container (other tests in this process may own some).
    assert local._runner is None or not any(key[0] == "demo" for key in local._runner._pools)
    assert play_child_worker(call_id) == {"call_id": call_id, "status": "done"}
    deploy("collect")
    assert invoke("collect", call_id) == 42  # FunctionCall.from_id(...).get() read the DynamoDB record


def test_pending_call_polled_from_a_deployed_function_times_out(deploy: Deploy) -> None:
    deploy("spawn_child")
    call_id = invoke("spawn_child", 1)
    deploy("collect")
    reply = lambda_handler.handler(call_event("collect", payload=encode_args((call_id,), {})), None)
    error = deserialize(base64.b64decode(reply["error_b64"]))
    assert error.type_name == "builtins.TimeoutError" and call_id in error.message


def test_map_and_remote_inside_a_deployed_function(deploy: Deploy) -> None:
    deploy("fan_out")
    store, stop = DynamoDBCallStore.from_env(), threading.Event()

    def workers() -> None:  # the child's Step Functions workers, as calls appear
        done: set[str] = set()
        while not stop.wait(0.05):
            items = client("dynamodb").scan(TableName=store.table)["Items"]
            for call_id in {i["call_id"]["S"] for i in items if i["status"]["S"] == "pending"} - done:
                play_child_worker(call_id)
                done.add(call_id)

    thread = threading.Thread(target=workers, daemon=True)
    thread.start()
    try:
        assert invoke("fan_out", 3) == [0, 2, 4, 200]
    finally:
        stop.set()
        thread.join(timeout=10)

"""``FunctionCall.cancel()`` of a deployed call: the call is settled cancelled, its execution stopped.

On moto server, with its Step Functions executing: the worker state machine is the emitted one with
its RunWorker task standing in for a long call (a Wait), started by the runtime's `start_execution`
(so named after the call id), exactly what ``cancel`` must stop.  The SDK test is a second, real
Python process that looks the app up from the call map deploy leaves in SSM (`runtime.callmap`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from infra.asl import build_definition
from runtime.awsclients import client
from runtime.callmap import CallMap, MappedFunction, parameter_name
from runtime.callstore import CallStatus, new_call_id
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.cloud_client import CloudTransport, FunctionTarget
from runtime.invocation import encode_args
from runtime.serialization import serialize, serialize_error
from runtime.stepfunctions import start_execution
from toolkit.deploy.names import stack_name

REPO = Path(__file__).resolve().parents[2]


class Stopped(Exception):
    """Stands in for the SDK's CallCancelledError at the runtime layer (which cannot import toolkit)."""


def _long_worker(table: str) -> str:
    definition = build_definition(tag="add", timeout=600, calls_table=table, function_arn="arn:aws:lambda:fn")
    definition["States"]["RunWorker"] = {"Type": "Wait", "Seconds": 600, "End": True}
    return str(client("stepfunctions").create_state_machine(
        name="demo-add-worker", definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/toolkit-sfn")["stateMachineArn"])


def _running(store: DynamoDBCallStore, machine: str) -> tuple[str, str]:
    call_id = new_call_id()
    store.create(call_id, "demo", "add", encode_args((1, 2), {}))
    arn = start_execution(machine, call_id, "add")
    assert store.mark_running(call_id)  # its worker is at work
    return call_id, arn


def _execution_status(arn: str, wanted: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while (status := client("stepfunctions").describe_execution(executionArn=arn)["status"]) != wanted:
        assert time.monotonic() < deadline, f"execution {status}, not {wanted}, after {timeout} s"
        time.sleep(0.1)
    return str(status)


def test_cancel_settles_the_call_and_stops_its_execution(aws: Any) -> None:
    store, machine = DynamoDBCallStore(aws.table), _long_worker(aws.table)
    call_id, arn = _running(store, machine)
    transport = CloudTransport("demo", store, {"add": FunctionTarget("add", state_machine_arn=machine)})

    assert transport.cancel(call_id, serialize_error(Stopped("cancelled by the test"))) is True

    assert _execution_status(arn, "ABORTED") == "ABORTED"
    with pytest.raises(Stopped, match="cancelled by the test"):
        transport.get(call_id, timeout=0)
    assert store.complete(call_id, CallStatus.DONE, serialize(3)) is False  # the worker's late result loses
    assert transport.cancel(call_id, serialize_error(Stopped("again"))) is False  # already settled


def test_cancel_leaves_a_finished_call_alone(aws: Any) -> None:
    store, machine = DynamoDBCallStore(aws.table), _long_worker(aws.table)
    call_id, arn = _running(store, machine)
    store.complete(call_id, CallStatus.DONE, serialize(3))
    transport = CloudTransport("demo", store, {"add": FunctionTarget("add", state_machine_arn=machine)})
    assert transport.cancel(call_id, serialize_error(Stopped())) is False
    assert transport.get(call_id, timeout=0) == 3
    assert client("stepfunctions").describe_execution(executionArn=arn)["status"] == "RUNNING"  # not stopped
    client("stepfunctions").stop_execution(executionArn=arn)


def test_cancel_of_an_unknown_call_names_it(aws: Any) -> None:
    transport = CloudTransport("demo", DynamoDBCallStore(aws.table), {})
    missing = new_call_id()
    with pytest.raises(LookupError, match=f"No call '{missing}' in app 'demo' to cancel"):
        transport.cancel(missing, serialize_error(Stopped()))


CANCEL = '''
import sys, toolkit
toolkit.App.lookup("demo")
call = toolkit.FunctionCall.from_id(sys.argv[1])
call.cancel()
try:
    call.get(timeout=5)
except toolkit.exception.CallCancelledError as exc:
    print("cancelled:", exc)
'''


def test_function_call_cancel_of_a_looked_up_deployed_call(aws: Any, tmp_path: Path) -> None:
    store, machine = DynamoDBCallStore(aws.table), _long_worker(aws.table)
    call_id, arn = _running(store, machine)
    call_map = CallMap(app="demo", region="us-east-1", calls_table=aws.table, payload_bucket=aws.bucket,
                       functions={"add": MappedFunction("add", state_machine_arn=machine)}, classes={})
    name = stack_name("demo", None, region="us-east-1")
    client("ssm").put_parameter(Name=parameter_name(name.project, name.stack), Value=call_map.dumps(), Type="String")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    done = subprocess.run([sys.executable, "-c", CANCEL, call_id], cwd=tmp_path, capture_output=True, text=True,
                          env={**env, "TOOLKIT_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(f"cancelled: {call_id} was cancelled (FunctionCall.cancel())"), done.stdout
    assert _execution_status(arn, "ABORTED") == "ABORTED"

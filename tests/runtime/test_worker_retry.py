"""``retries=`` across a worker killed by its timeout: the retry takes the call back (infra/asl.py, attempts).

Step Functions retries a worker task only once the try before it has stopped, and tells each try
its number (``$$.State.RetryCount``).  The runtime records the number with its claim, so a later
try may claim a RUNNING call an earlier one left behind; the same try, or an earlier one, may not.

On moto server: the emitted definition's Retry and RetryCount run for real (the RunWorker task is
swapped for a conditional ``dynamodb:putItem`` of the very payload the Lambda would get, made to
fail on the first try), and the first try of the runtime's handler is a real process killed while
the function runs, as Lambda kills one at its timeout.
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
from deployed_app import USER_APP, function, write_app
from moto_support import aws_environ, finished_execution

from infra.asl import ECS_RUN_TASK_SYNC, WORKER_ATTEMPT_ENV, EcsTarget, Retry, build_definition
from runtime import lambda_handler
from runtime.awsclients import client
from runtime.callstore import CallStatus, new_call_id
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.cloud_client import CloudTransport
from runtime.invocation import InvalidInvocationError, WorkerTask, encode_args
from runtime.serialization import serialize

SLOW_ONCE = '''
def slow_once(marker):
    """Hangs on its first try (until killed), returns on the next."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        time.sleep(300)
    return "finished on a retry"
'''


@pytest.fixture
def store(aws: Any) -> DynamoDBCallStore:
    return DynamoDBCallStore(aws.table)


def _claimed(store: DynamoDBCallStore) -> str:
    call_id = new_call_id()
    store.create(call_id, "demo", "add", encode_args((1, 2), {}))
    assert store.mark_running(call_id)  # try 0 claimed it, then stopped
    return call_id


def test_a_later_attempt_claims_back_a_running_call(store: DynamoDBCallStore) -> None:
    call_id = _claimed(store)
    assert store.mark_running(call_id) is False  # a duplicate of the first try: never twice
    assert store.mark_running(call_id, attempt=1) is True
    assert store.mark_running(call_id, attempt=1) is False  # the same try delivered again
    assert store.mark_running(call_id, attempt=2) is True
    assert store.complete(call_id, CallStatus.DONE, serialize(3))
    assert store.mark_running(call_id, attempt=3) is False  # finished: nothing to take back


def test_a_retry_does_not_take_a_call_out_of_a_batch(store: DynamoDBCallStore) -> None:
    leader, member = new_call_id(), new_call_id()
    for call_id in (leader, member):
        store.create(call_id, "demo", "add", encode_args((1, 2), {}))
    assert store.mark_running(member, batched_by=leader)
    assert store.mark_running(member, attempt=1) is False  # the batch's leader records its result


def test_worker_task_attempt_must_be_a_retry_count() -> None:
    call_id = new_call_id()
    assert WorkerTask.parse({"call_id": call_id, "function": "f"}).attempt == 0
    assert WorkerTask.parse({"call_id": call_id, "function": "f", "attempt": 2}).attempt == 2
    with pytest.raises(InvalidInvocationError, match=r"\"attempt\" is a retry count \(0, 1, \.\.\.\), not '1'"):
        WorkerTask.parse({"call_id": call_id, "function": "f", "attempt": "1"})


def _payload_recorder(definition: dict[str, Any], table: str) -> dict[str, Any]:
    """RunWorker writes the Lambda payload it was given, keyed ``<call>#<try>``, only if that key is new."""
    task = definition["States"]["RunWorker"]
    payload = task["Parameters"]["Payload"]
    item = {key.removesuffix(".$"): ({"N.$": f"States.Format('{{}}', {value})"} if key == "attempt.$" else
                                     {"S.$": value} if key.endswith(".$") else {"S": value})
            for key, value in payload.items()}
    item["key"] = {"S.$": "States.Format('{}#{}', $.call_id, $$.State.RetryCount)"}
    task.update(Resource="arn:aws:states:::dynamodb:putItem", Parameters={
        "TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(#k)",
        "ExpressionAttributeNames": {"#k": "key"}})
    return definition


def _table(name: str) -> None:
    client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                    AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
                                    KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}])


def test_the_retried_lambda_task_is_told_its_attempt(aws: Any) -> None:
    definition = build_definition(tag="slow_once", timeout=60, calls_table=aws.table,
                                  retry=Retry(max_retries=2, initial_delay=1), function_arn="arn:aws:lambda:fn")
    _table("payloads")
    call_id = new_call_id()
    client("dynamodb").put_item(TableName="payloads", Item={"key": {"S": f"{call_id}#0"}})  # try 0 fails
    machine = client("stepfunctions").create_state_machine(
        name="toolkit-slow-once", definition=json.dumps(_payload_recorder(definition, "payloads")),
        roleArn="arn:aws:iam::123456789012:role/toolkit-sfn")["stateMachineArn"]
    execution = client("stepfunctions").start_execution(
        stateMachineArn=machine, name=call_id, input=json.dumps({"call_id": call_id, "function": "slow_once"}))

    assert finished_execution(client("stepfunctions"), execution["executionArn"])["status"] == "SUCCEEDED"
    item = client("dynamodb").get_item(TableName="payloads", Key={"key": {"S": f"{call_id}#1"}})["Item"]
    assert {k: next(iter(v.values())) for k, v in item.items() if k != "key"} == {
        "toolkit_event": "worker_task", "call_id": call_id, "function": "slow_once", "attempt": "1"}


def test_the_ecs_task_is_told_its_attempt_in_its_environment() -> None:
    target = EcsTarget(cluster="c", task_definition="td:1", container="function", subnets=("s",), security_groups=("g",))
    task = build_definition(tag="train", timeout=60, calls_table="calls", retry=Retry(max_retries=1), ecs=target)
    run = task["States"]["RunWorker"]
    assert run["Resource"] == ECS_RUN_TASK_SYNC
    env = {e["Name"]: e["Value.$"] for e in run["Parameters"]["Overrides"]["ContainerOverrides"][0]["Environment"]}
    assert env[WORKER_ATTEMPT_ENV] == "States.Format('{}', $$.State.RetryCount)"


@pytest.fixture
def slow_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    manifest = write_app(tmp_path, [function("slow_once", timeout=60)])
    (tmp_path / "user_app.py").write_text(USER_APP + SLOW_ONCE)
    env = {"TOOLKIT_MANIFEST": str(manifest), "TOOLKIT_APP_ROOT": str(tmp_path), "TOOLKIT_FUNCTION": "slow_once"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    lambda_handler.shutdown()
    yield env
    lambda_handler.shutdown()


def _first_try_killed(call_id: str, env: dict[str, str], marker: Path, store: DynamoDBCallStore) -> None:
    """Run try 0 in its own process and kill it mid-call, as Lambda does at the function's timeout."""
    task = {"toolkit_event": "worker_task", "call_id": call_id, "function": "slow_once", "attempt": 0}
    process = subprocess.Popen(
        [sys.executable, "-c", f"from runtime.lambda_handler import handler; handler({task!r}, None)"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the first try never started the call"
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert store.get(call_id).status is CallStatus.RUNNING  # type: ignore[union-attr]  # left behind


def test_a_retry_after_a_timeout_runs_the_call_and_records_its_result(
        aws: Any, slow_app: dict[str, str], tmp_path: Path) -> None:
    store, call_id, marker = DynamoDBCallStore(aws.table), new_call_id(), tmp_path / "started"
    store.create(call_id, "demo", "slow_once", encode_args((str(marker),), {}))
    _first_try_killed(call_id, {**slow_app, **aws_environ(aws.endpoint), "TOOLKIT_CALLS_TABLE": aws.table}, marker, store)

    reply = lambda_handler.handler(
        {"toolkit_event": "worker_task", "call_id": call_id, "function": "slow_once", "attempt": 1}, None)

    assert reply == {"call_id": call_id, "status": "done"}
    assert CloudTransport("demo", store, {}).get(call_id, timeout=0) == "finished on a retry"


def test_a_retry_without_an_attempt_number_still_reports_the_abandoned_call(
        aws: Any, slow_app: dict[str, str], store: DynamoDBCallStore) -> None:
    """A worker task from a state machine deployed before attempts: the old, explicit failure."""
    call_id = new_call_id()
    store.create(call_id, "demo", "slow_once", encode_args(("unused",), {}))
    store.mark_running(call_id)
    with pytest.raises(lambda_handler.AbandonedCallError, match=f"Call {call_id} is still running"):
        lambda_handler.handler({"toolkit_event": "worker_task", "call_id": call_id, "function": "slow_once"}, None)


def test_a_retried_ecs_worker_task_takes_its_call_back(aws: Any, slow_app: dict[str, str], tmp_path: Path) -> None:
    """``python -m runtime.entrypoints.worker_task`` with the attempt the state machine sets (`WORKER_ATTEMPT_ENV`)."""
    store, call_id, marker = DynamoDBCallStore(aws.table), new_call_id(), tmp_path / "started"
    marker.touch()  # this call returns at once
    store.create(call_id, "demo", "slow_once", encode_args((str(marker),), {}))
    assert store.mark_running(call_id)  # the task of try 0 stopped after claiming it
    task = json.dumps({"toolkit_event": "worker_task", "call_id": call_id, "function": "slow_once"})
    env = {**os.environ, **slow_app, **aws_environ(aws.endpoint), "TOOLKIT_CALLS_TABLE": aws.table,
           "TOOLKIT_WORKER_TASK": task, WORKER_ATTEMPT_ENV: "1"}
    done = subprocess.run([sys.executable, "-m", "runtime.entrypoints.worker_task"], env=env, capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert CloudTransport("demo", store, {}).get(call_id, timeout=0) == "finished on a retry"


BATCH_APP = '''
import toolkit

app = toolkit.App("batch-demo")

@app.function()
@toolkit.batched(max_batch_size=4, wait_ms=300)
def sizes(xs):
    return [len(xs)] * len(xs)
'''


def test_a_retried_batch_leader_takes_its_call_back_and_batches_the_pending_ones(
        aws: Any, tmp_path: Path) -> None:
    """``@toolkit.batched`` on an ECS worker: try 0 claimed the call and stopped; try 1 runs the batch."""
    (tmp_path / "batch_app.py").write_text(BATCH_APP)
    source = {"kind": "file", "path": "batch_app.py", "module": "batch_app", "app_variable": "app"}
    repo = str(Path(__file__).resolve().parents[2])
    manifest = subprocess.run(
        [sys.executable, "-c", "import json, batch_app; from toolkit.manifest import build_manifest; "
                               f"print(json.dumps(build_manifest(batch_app.app, source={source!r})))"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": repo}, capture_output=True, text=True, timeout=60)
    assert manifest.returncode == 0, manifest.stderr
    (tmp_path / "manifest.json").write_text(manifest.stdout)
    table = "batch-calls"
    client("dynamodb").create_table(  # with the pending index, as infra/components/calls.py declares it
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t}
                              for n, t in (("call_id", "S"), ("pending_key", "S"), ("created_at", "N"))],
        KeySchema=[{"AttributeName": "call_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "pending", "Projection": {"ProjectionType": "KEYS_ONLY"},
                                 "KeySchema": [{"AttributeName": "pending_key", "KeyType": "HASH"},
                                               {"AttributeName": "created_at", "KeyType": "RANGE"}]}])
    store = DynamoDBCallStore(table)
    leader, other = new_call_id(), new_call_id()
    for call_id in (leader, other):
        store.create(call_id, "batch-demo", "sizes", encode_args((1,), {}))
    assert store.mark_running(leader)  # try 0 claimed it, then its task stopped
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    env.update({"PYTHONPATH": repo, "TOOLKIT_MANIFEST": str(tmp_path / "manifest.json"),
                "TOOLKIT_APP_ROOT": str(tmp_path), "TOOLKIT_FUNCTION": "sizes", "TOOLKIT_CALLS_TABLE": table,
                "TOOLKIT_WORKER_TASK": json.dumps({"toolkit_event": "worker_task", "call_id": leader,
                                                   "function": "sizes"}), WORKER_ATTEMPT_ENV: "1"})
    done = subprocess.run([sys.executable, "-m", "runtime.entrypoints.worker_task"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    transport = CloudTransport("batch-demo", store, {})
    assert [transport.get(c, timeout=0) for c in (leader, other)] == [2, 2]  # one batch of both


def test_a_retry_outside_ecs_drops_the_stopped_tasks_ownership(aws: Any) -> None:
    """Else a reader would judge the retry's call by the task of the try before it (stopped: "lost")."""
    call_id = new_call_id()
    in_task = DynamoDBCallStore(aws.table, claimant=lambda: "ecs-task:cluster|arn:aws:ecs:us-east-1:1:task/c/old")
    in_task.create(call_id, "demo", "add", encode_args((1, 2), {}))
    assert in_task.mark_running(call_id)
    retry = DynamoDBCallStore(aws.table)  # a try whose task metadata could not be read
    assert retry.mark_running(call_id, attempt=1)
    record = retry.get(call_id)
    assert record is not None and record.status is CallStatus.RUNNING and record.owner is None

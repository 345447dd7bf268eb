"""Calls whose worker is gone are settled by their readers (runtime/callstore/supervision.py).

On moto server: the Step Functions executions are real (started with the runtime's own
`start_execution`, so named after the call id; stopped with StopExecution, or failed by the
emitted definition itself), and so are the ECS tasks (RunTask/StopTask/DescribeTasks) and the
DynamoDB call table.  An ECS task's metadata endpoint is a real HTTP server on 127.0.0.1 serving
the task moto started, as ECS serves it to the container.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from deployed_app import USER_APP, function, write_app
from loopback import free_port

from infra.asl import LAMBDA_INVOKE, Retry, build_definition
from runtime.awsclients import client
from runtime.callstore import CallRecord, CallStatus, new_call_id
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.callstore.supervision import METADATA_ENV, Supervisor, ecs_task_owner, execution_arn
from runtime.cloud_client import CloudFunctionCall, CloudTransport, FunctionTarget
from runtime.gateway.budget import wait_for_finish
from runtime.invocation import encode_args
from runtime.serialization import WorkerFailedError, serialize
from runtime.stepfunctions import start_execution

CHECK_S = 0.3  # supervision's quiet time in these tests (deployed readers wait 10 s)
ROLE = "arn:aws:iam::123456789012:role/toolkit-sfn"


def _machine(definition: dict[str, Any]) -> str:
    return str(client("stepfunctions").create_state_machine(
        name=f"toolkit-add-{new_call_id()}", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"])


def _failing_worker(definition: dict[str, Any]) -> dict[str, Any]:
    """RunWorker fails as emitted (moto runs no Lambda code): a getItem on a table that does not exist."""
    task = definition["States"]["RunWorker"]
    assert task["Resource"] == LAMBDA_INVOKE
    task.update(Resource="arn:aws:states:::dynamodb:getItem",
                Parameters={"TableName": "toolkit-worker-gone", "Key": {"call_id": {"S.$": "$.call_id"}}})
    return definition


def _waiting_machine(table: str) -> str:
    """The emitted Lambda worker definition with its RunWorker task standing in for a long call: a Wait."""
    definition = build_definition(tag="add", timeout=600, calls_table=table, function_arn="arn:aws:lambda:fn")
    definition["States"]["RunWorker"] = {"Type": "Wait", "Seconds": 600, "End": True}
    return _machine(definition)


def _running_call(store: DynamoDBCallStore) -> str:
    call_id = new_call_id()
    store.create(call_id, "demo", "add", encode_args((1, 2), {}))
    assert store.mark_running(call_id)  # a worker claimed it
    return call_id


def _reader(table: str, machine: str) -> tuple[DynamoDBCallStore, CloudTransport]:
    """What a process reading the app's calls holds: a supervised store and the app's targets."""
    store = DynamoDBCallStore(table, supervisor=Supervisor({"add": machine}, check_every_s=CHECK_S))
    return store, CloudTransport("demo", store, {"add": FunctionTarget("add", state_machine_arn=machine)})


def _status(execution_arn_: str, wanted: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while client("stepfunctions").describe_execution(executionArn=execution_arn_)["status"] != wanted:
        assert time.monotonic() < deadline, f"execution not {wanted} after {timeout} s"
        time.sleep(0.1)


def test_execution_arn_is_the_one_start_execution_names(aws: Any) -> None:
    machine, call_id = _waiting_machine(aws.table), new_call_id()
    assert start_execution(machine, call_id, "add") == execution_arn(machine, call_id)


def test_a_stopped_execution_fails_the_call_and_get_says_aborted(aws: Any) -> None:
    writer = DynamoDBCallStore(aws.table)
    machine, call_id = _waiting_machine(aws.table), _running_call(writer)
    arn = start_execution(machine, call_id, "add")
    _status(arn, "RUNNING")
    client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")
    store, transport = _reader(aws.table, machine)

    started = time.monotonic()
    with pytest.raises(WorkerFailedError, match=r"ExecutionAborted.*is ABORTED: it was stopped") as caught:
        CloudFunctionCall.from_id(call_id, transport).get(timeout=30)
    assert time.monotonic() - started < 10  # settled within a few quiet periods, not at get's timeout
    assert arn in str(caught.value)  # which execution, for the console
    # settled for every reader, supervised or not, and a late result does not replace the verdict
    record = writer.get(call_id)
    assert record is not None and record.status is CallStatus.FAILED
    assert writer.complete(call_id, CallStatus.DONE, serialize(3)) is False


def test_get_with_timeout_zero_settles_a_call_that_went_quiet_before_it_looked(aws: Any) -> None:
    """A client polling with get(timeout=0) (a web page, a cron) never waits: the record's own age counts."""
    writer = DynamoDBCallStore(aws.table)
    machine, call_id = _waiting_machine(aws.table), _running_call(writer)
    arn = start_execution(machine, call_id, "add")
    _status(arn, "RUNNING")
    client("stepfunctions").stop_execution(executionArn=arn)
    time.sleep(CHECK_S * 2)
    _, transport = _reader(aws.table, machine)
    with pytest.raises(WorkerFailedError, match="is ABORTED"):
        transport.get(call_id, timeout=0)


def test_an_execution_timed_out_at_the_state_machine_level_fails_the_call(aws: Any) -> None:
    """The state machine's own TimeoutSeconds (an operator's edit, say) ends the execution past every Catch."""
    definition = build_definition(tag="add", timeout=600, calls_table=aws.table, function_arn="arn:aws:lambda:fn")
    definition["States"]["RunWorker"] = {"Type": "Wait", "Seconds": 600, "End": True}
    definition["TimeoutSeconds"] = 1
    writer = DynamoDBCallStore(aws.table)
    machine, call_id = _machine(definition), _running_call(writer)
    _status(start_execution(machine, call_id, "add"), "TIMED_OUT")
    _, transport = _reader(aws.table, machine)
    with pytest.raises(WorkerFailedError, match=r"ExecutionTimedOut.*is TIMED_OUT: it timed out"):
        transport.get(call_id, timeout=30)


def test_a_running_execution_or_none_at_all_leaves_the_call_alone(aws: Any) -> None:
    writer = DynamoDBCallStore(aws.table)
    machine = _waiting_machine(aws.table)
    running, direct = _running_call(writer), _running_call(writer)  # direct: a .remote() invoke, no execution
    arn = start_execution(machine, running, "add")
    _status(arn, "RUNNING")
    _, transport = _reader(aws.table, machine)
    for call_id in (running, direct):
        with pytest.raises(TimeoutError, match="still running"):
            transport.get(call_id, timeout=CHECK_S * 4)
    client("stepfunctions").stop_execution(executionArn=arn)  # leave no execution waiting


def test_an_execution_that_failed_outside_the_catch_fails_the_call(aws: Any) -> None:
    """MarkFailed writes to a table it cannot reach: the execution FAILS, the record stays RUNNING."""
    writer = DynamoDBCallStore(aws.table)
    call_id = _running_call(writer)
    definition = _failing_worker(build_definition(
        tag="add", timeout=60, calls_table="toolkit-calls-gone", retry=Retry(max_retries=0),
        function_arn="arn:aws:lambda:fn"))
    machine = _machine(definition)
    arn = start_execution(machine, call_id, "add")
    _status(arn, "FAILED")
    record = writer.get(call_id)
    assert record is not None and record.status is CallStatus.RUNNING  # what the Catch could not fix

    _, transport = _reader(aws.table, machine)
    with pytest.raises(WorkerFailedError, match=r"ExecutionFailed.*is FAILED.*DynamoDB\.ResourceNotFoundException"):
        transport.get(call_id, timeout=30)


def test_a_result_recorded_first_wins_over_an_ended_execution(aws: Any) -> None:
    writer = DynamoDBCallStore(aws.table)
    machine, call_id = _waiting_machine(aws.table), _running_call(writer)
    arn = start_execution(machine, call_id, "add")
    _status(arn, "RUNNING")
    assert writer.complete(call_id, CallStatus.DONE, serialize(3))
    client("stepfunctions").stop_execution(executionArn=arn)
    _, transport = _reader(aws.table, machine)
    assert transport.get(call_id, timeout=5) == 3


# -- ECS: the task that claimed a call is its owner ------------------------------------------------

class _Metadata(BaseHTTPRequestHandler):
    task: dict[str, str] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = json.dumps(self.task if self.path.endswith("/task") else {}).encode()
        self.send_response(200 if self.path.endswith("/task") else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ecs_task(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Fargate task moto runs, and this process inside it: the metadata endpoint ECS gives a container."""
    ecs = client("ecs")
    cluster = ecs.create_cluster(clusterName="toolkit-demo")["cluster"]["clusterArn"]
    family = ecs.register_task_definition(
        family="demo-server", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[{"name": "function", "image": "demo:latest", "memory": 512}],
    )["taskDefinition"]["taskDefinitionArn"]
    subnet = client("ec2").describe_subnets()["Subnets"][0]  # the default VPC's
    group = client("ec2").describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [subnet["VpcId"]]}])["SecurityGroups"][0]["GroupId"]
    task = ecs.run_task(cluster=cluster, taskDefinition=family, launchType="FARGATE", networkConfiguration={
        "awsvpcConfiguration": {"subnets": [subnet["SubnetId"]], "securityGroups": [group]}})["tasks"][0]["taskArn"]
    handler = type("Metadata", (_Metadata,), {"task": {"Cluster": cluster, "TaskARN": task}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() returns at the loop's next poll: 0.5 s by default, at every teardown
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv(METADATA_ENV, f"http://127.0.0.1:{server.server_address[1]}/v4/abc")
    ecs_task_owner.cache_clear()
    yield task
    server.shutdown()
    server.server_close()
    ecs_task_owner.cache_clear()


def test_a_call_claimed_in_an_ecs_task_records_the_task_and_is_lost_when_it_stops(
        aws: Any, ecs_task: str) -> None:
    worker = DynamoDBCallStore.from_env()  # as an ECS service or worker task builds it
    call_id = new_call_id()
    worker.create(call_id, "demo", "serve", b"request")  # ThreadCalls: no owner until a thread claims it
    assert worker.mark_running(call_id)
    record = worker.get(call_id)
    assert record is not None and record.owner is not None and record.owner.endswith(ecs_task)

    reader = DynamoDBCallStore(aws.table, supervisor=Supervisor({}, check_every_s=CHECK_S))
    time.sleep(CHECK_S * 2)
    assert reader.get(call_id).status is CallStatus.RUNNING  # type: ignore[union-attr]  # the task runs
    client("ecs").stop_task(cluster="toolkit-demo", task=ecs_task, reason="OutOfMemoryError: Container killed")
    time.sleep(CHECK_S * 2)

    settled = reader.get(call_id)
    assert settled is not None and settled.status is CallStatus.FAILED
    transport = CloudTransport("demo", reader, {})
    with pytest.raises(WorkerFailedError, match=r"ECS\.TaskStopped.*OutOfMemoryError: Container killed.*memory="):
        transport.get(call_id, timeout=0)


SLOW_WEB = '''

def slow_web():
    web = FastAPI()

    @web.get("/slow")
    def slow():
        time.sleep(300)  # outlives the request budget: runs detached on the task's own thread
        return {"ok": True}
    return web
'''


def test_an_ecs_service_task_killed_mid_call_leaves_a_call_its_result_url_reports_failed(
        aws: Any, ecs_task: str, tmp_path: Path) -> None:
    """``python -m runtime.server`` as an ECS service task runs an over-budget request on its own thread
    (no Step Functions); the task is killed; a reader (another task answering the result URL) settles it."""
    manifest = write_app(tmp_path, [function("slow_web", "asgi_app", timeout=600)])
    (tmp_path / "user_app.py").write_text(USER_APP + SLOW_WEB)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")} | {
        "TOOLKIT_MANIFEST": str(manifest), "TOOLKIT_APP_ROOT": str(tmp_path), "TOOLKIT_FUNCTION": "slow_web",
        "TOOLKIT_CALLS_TABLE": aws.table, "TOOLKIT_REQUEST_BUDGET_S": "1", "PORT": str(port)}
    server = subprocess.Popen([sys.executable, "-m", "runtime.server"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, "runtime.server did not start"
            try:
                if httpx.get(f"{base}/__toolkit/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        reply = httpx.get(f"{base}/slow", timeout=30)
        assert reply.status_code == 303, reply.text
        call_id = reply.headers["location"].split("__toolkit_call_id=")[1]
    finally:
        server.kill()  # the task dies (OOM, a deploy replacing it) with the call on its thread
        server.wait(timeout=10)
    record = DynamoDBCallStore(aws.table).get(call_id)
    assert record is not None and record.status is CallStatus.RUNNING and record.owner and ecs_task in record.owner
    client("ecs").stop_task(cluster="toolkit-demo", task=ecs_task, reason="Task failed container health checks")

    reader = DynamoDBCallStore(aws.table, supervisor=Supervisor({}, check_every_s=CHECK_S))
    settled = asyncio.run(wait_for_finish(reader, call_id, 10))  # what the gateway's result URL waits on
    assert settled is not None and settled.status is CallStatus.FAILED
    with pytest.raises(WorkerFailedError, match="Task failed container health checks"):
        CloudTransport("demo", reader, {}).get(call_id, timeout=0)


def test_a_task_ecs_does_not_report_missing_is_no_verdict(aws: Any, ecs_task: str) -> None:
    """moto answers an unknown task with neither the task nor a MISSING failure: no guess is made
    (AWS's MISSING answer for a task it forgot settles the call; that branch is unverified here)."""
    owner = f"ecs-task:toolkit-demo|{ecs_task.rsplit('/', 1)[0]}/0123456789abcdef"
    writer = DynamoDBCallStore(aws.table, claimant=lambda: owner)
    call_id = new_call_id()
    writer.create(call_id, "demo", "serve")
    assert writer.mark_running(call_id)
    time.sleep(CHECK_S * 2)
    reader = DynamoDBCallStore(aws.table, supervisor=Supervisor({}, check_every_s=CHECK_S))
    assert reader.get(call_id).status is CallStatus.RUNNING  # type: ignore[union-attr]


def test_outside_ecs_claims_record_no_owner(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(METADATA_ENV, raising=False)
    ecs_task_owner.cache_clear()
    store, call_id = DynamoDBCallStore.from_env(), new_call_id()
    store.create(call_id, "demo", "add")
    assert store.mark_running(call_id)
    assert store.get(call_id).owner is None  # type: ignore[union-attr]


# -- a direct .remote() invoke: no execution, no task; Lambda's own limit bounds the wait ------------

def _invoke_retried_while_the_first_runs(store: DynamoDBCallStore, finish: bool) -> Any:
    """botocore retried the invoke; the retry found the first invocation at work (it claimed the call),
    which then records its result (``finish``) or is killed by its timeout and records nothing."""
    def invoke(arn: str, event: dict[str, Any]) -> dict[str, Any]:
        store.mark_running(event["call_id"])
        if finish:
            threading.Timer(0.2, store.complete, (event["call_id"], CallStatus.DONE, serialize(3))).start()
        return {"toolkit_result": "stored", "call_id": event["call_id"], "status": "running"}
    return invoke


def test_remote_whose_invocation_was_killed_fails_after_the_invocation_limit(aws: Any) -> None:
    store = DynamoDBCallStore(aws.table)
    transport = CloudTransport("demo", store, {"add": FunctionTarget("add", lambda_arn="arn:aws:lambda:fn:live")},
                               invoker=_invoke_retried_while_the_first_runs(store, finish=False),
                               invocation_limit_s=1.0)
    started = time.monotonic()
    with pytest.raises(WorkerFailedError, match=r"Lambda\.InvocationLost.*within 1 s.*killed by the function's timeout"):
        transport.remote("add", (1, 2))
    assert time.monotonic() - started < 10
    (item,) = client("dynamodb").scan(TableName=aws.table)["Items"]
    assert item["status"]["S"] == "failed"  # settled for every reader, not left running


def test_remote_whose_first_invocation_finishes_returns_its_result(aws: Any) -> None:
    store = DynamoDBCallStore(aws.table)
    transport = CloudTransport("demo", store, {"add": FunctionTarget("add", lambda_arn="arn:aws:lambda:fn:live")},
                               invoker=_invoke_retried_while_the_first_runs(store, finish=True),
                               invocation_limit_s=30.0)
    assert transport.remote("add", (1, 2)) == 3


# -- how often a reader asks --------------------------------------------------------------------------

def test_a_reader_asks_once_per_quiet_period_and_starts_over_when_the_record_changes() -> None:
    now = [100.0]
    supervisor = Supervisor({}, check_every_s=10, clock=lambda: now[0])
    fresh = CallRecord("fc-1", "demo", "add", CallStatus.RUNNING, time.time(), time.time())
    assert supervisor.due(fresh) is False  # just written: nothing to ask yet
    now[0] += 9.9
    assert supervisor.due(fresh) is False
    now[0] += 0.2
    assert supervisor.due(fresh) is True  # quiet for 10 s as this reader saw it
    assert supervisor.due(fresh) is False  # asked: the next question is 10 s away
    claimed = fresh._replace(updated_at=fresh.updated_at + 1)  # a retry claimed it: the record changed
    assert supervisor.due(claimed) is False
    stale = CallRecord("fc-2", "demo", "add", CallStatus.PENDING, time.time() - 60, time.time() - 60)
    assert supervisor.due(stale) is True  # quiet before this reader first looked (get(timeout=0) polls)

"""``@toolkit.batched`` on AWS (issue 16 item 4): a deployed worker collects up to ``max_batch_size``
pending calls of its function from the call table, for up to ``wait_ms``, runs them as one batch and
records each call's own result; the workers of the calls it took wait for the batch instead of
running them again.

Real processes against moto: calls made by the client transport (`runtime.cloud_client`, as
``.spawn`` does), then the ECS worker entrypoint ``python -m runtime.entrypoints.worker_task`` with
the environment infra gives it.  The call table is created as infra declares it, with the sparse
``pending`` index (tests/infra/test_pending_index.py checks the declaration).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from call_tables import create_indexed_call_table

from runtime.awsclients import client
from runtime.callstore import CallStatus
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.cloud_client import CloudTransport, FunctionTarget

pytestmark = pytest.mark.timeout(180)

REPO = Path(__file__).resolve().parents[2]
APP = '''
import time
import toolkit

app = toolkit.App("batch-demo")

@app.function()
@toolkit.batched(max_batch_size=4, wait_ms=500)  # the tests spawn every call first: the first look claims them
def sizes(xs):
    time.sleep(2)  # long enough that a taken call's own worker arrives while the batch runs
    return [{"batch": len(xs), "x": x, "call": toolkit.current_function_call_id()} for x in xs]

@app.cls()
class Scaler:
    factor: int = toolkit.parameter(default=1)

    @toolkit.batched(max_batch_size=8, wait_ms=800)
    def scale(self, xs):
        return [(x * self.factor, len(xs)) for x in xs]
'''
SOURCE = {"kind": "file", "path": "batch_app.py", "module": "batch_app", "app_variable": "app"}


class Deployed:
    def __init__(self, root: Path, table: str, bucket: str, machine: str) -> None:
        self.root, self.table, self.bucket = root, table, bucket
        self.store = DynamoDBCallStore(table, bucket)
        self.transport = CloudTransport("batch-demo", self.store, {
            "sizes": FunctionTarget("sizes", None, machine), "Scaler.scale": FunctionTarget("Scaler.scale", None, machine)})

    def worker(self, tag: str, call_id: str, attempt: int = 0) -> subprocess.Popen[str]:
        """The ECS worker task for ``call_id``, as the state machine's ``ecs:runTask.sync`` starts it
        (``attempt``: its Step Functions retry count, as infra/asl.py passes it)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
        env.update({"PYTHONPATH": str(REPO), "TOOLKIT_MANIFEST": str(self.root / "manifest.json"),
                    "TOOLKIT_WORKER_ATTEMPT": str(attempt),
                    "TOOLKIT_APP_ROOT": str(self.root), "TOOLKIT_FUNCTION": tag, "TOOLKIT_CALLS_TABLE": self.table,
                    "TOOLKIT_PAYLOAD_BUCKET": self.bucket,
                    "TOOLKIT_WORKER_TASK": json.dumps({"toolkit_event": "worker_task", "call_id": call_id,
                                                       "function": tag})})
        return subprocess.Popen([sys.executable, "-m", "runtime.entrypoints.worker_task"], cwd=self.root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def status(self, call_id: str) -> CallStatus:
        record = self.transport.store.get(call_id)
        assert record is not None
        return record.status


@pytest.fixture
def deployed(recorded_executions: Any, tmp_path: Path) -> Iterator[Deployed]:
    (tmp_path / "batch_app.py").write_text(APP)
    manifest = subprocess.run(
        [sys.executable, "-c", "import json, batch_app; from toolkit.manifest import build_manifest; "
                               f"print(json.dumps(build_manifest(batch_app.app, source={SOURCE!r})))"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60)
    assert manifest.returncode == 0, manifest.stderr
    (tmp_path / "manifest.json").write_text(manifest.stdout)
    table = f"batch-calls-{uuid.uuid4().hex[:8]}"
    create_indexed_call_table(table)
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    machine = client("stepfunctions").create_state_machine(
        name=f"batch-demo-worker-{uuid.uuid4().hex[:6]}", definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/toolkit-sfn")["stateMachineArn"]
    yield Deployed(tmp_path, table, recorded_executions.bucket, machine)


def _finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    reply: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return reply


def _wait_until(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_one_worker_runs_the_pending_calls_as_one_batch_and_the_others_wait_for_it(deployed: Deployed) -> None:
    calls = [deployed.transport.spawn("sizes", (x,)) for x in range(4)]
    leader = deployed.worker("sizes", calls[0])
    # the leader claims the other three into its batch; their own workers then find them taken
    _wait_until(lambda: all(deployed.status(c) is not CallStatus.PENDING for c in calls))
    follower = deployed.worker("sizes", calls[3])
    _wait_until(lambda: deployed.store.batched_by(calls[3]) == calls[0])
    assert deployed.status(calls[3]) is CallStatus.RUNNING and leader.poll() is None  # the batch is still running
    assert _finish(leader) == {"call_id": calls[0], "status": "done", "ok": True}
    assert _finish(follower) == {"call_id": calls[3], "status": "done", "ok": True}  # waited, did not rerun
    results = [deployed.transport.get(c, timeout=0) for c in calls]
    assert [(r["batch"], r["x"]) for r in results] == [(4, 0), (4, 1), (4, 2), (4, 3)]  # one call of the function
    assert {r["call"] for r in results} == {calls[0]}  # as locally: the batch runs under its first input's call
    assert _finish(deployed.worker("sizes", calls[1])) == {"call_id": calls[1], "status": "done", "ok": True}


def test_a_batch_takes_at_most_max_batch_size_and_leaves_the_rest_pending(deployed: Deployed) -> None:
    calls = [deployed.transport.spawn("sizes", (x,)) for x in range(6)]
    assert _finish(deployed.worker("sizes", calls[0]))["status"] == "done"
    statuses = [deployed.status(c) for c in calls]
    assert statuses.count(CallStatus.DONE) == 4 and statuses.count(CallStatus.PENDING) == 2
    left = [c for c, s in zip(calls, statuses, strict=True) if s is CallStatus.PENDING]
    assert _finish(deployed.worker("sizes", left[0]))["status"] == "done"
    assert [deployed.transport.get(c, timeout=0)["batch"] for c in left] == [2, 2]


def test_a_methods_batch_takes_only_calls_with_the_same_parameters(deployed: Deployed) -> None:
    threes = [deployed.transport.spawn("Scaler.scale", (x,), params=(("factor", 3),)) for x in (1, 2)]
    tens = [deployed.transport.spawn("Scaler.scale", (x,), params=(("factor", 10),)) for x in (1, 2, 3)]
    assert _finish(deployed.worker("Scaler.scale", threes[0]))["status"] == "done"
    assert [deployed.transport.get(c, timeout=0) for c in threes] == [(3, 2), (6, 2)]
    assert all(deployed.status(c) is CallStatus.PENDING for c in tens)  # another instance: another batch
    assert _finish(deployed.worker("Scaler.scale", tens[1]))["status"] == "done"
    assert [deployed.transport.get(c, timeout=0) for c in tens] == [(10, 3), (20, 3), (30, 3)]


def test_a_failing_batch_fails_each_of_its_calls_with_the_error(deployed: Deployed) -> None:
    good = deployed.transport.spawn("sizes", (1,))
    bad = deployed.transport.spawn("sizes", (), {"wrong": 1})  # does not fit the function: fails alone
    assert _finish(deployed.worker("sizes", good))["status"] == "done"
    assert deployed.transport.get(good, timeout=0)["batch"] == 1
    with pytest.raises(TypeError, match="batched function sizes has no argument 'wrong'"):
        deployed.transport.get(bad, timeout=0)


def test_a_call_table_without_the_index_runs_batches_of_one(recorded_executions: Any) -> None:
    """A stack deployed before the index existed (the fixture's table has none): no error, no batch."""
    store = DynamoDBCallStore(recorded_executions.table, recorded_executions.bucket)
    store.create("fc-" + "ab" * 12, "batch-demo", "sizes", b"payload")
    assert store.pending_calls("batch-demo", "sizes", 4) == []


def test_a_retried_leader_takes_back_its_batch_and_finishes_every_call_in_it(deployed: Deployed) -> None:
    """The leader's first try claims the batch and is killed mid-run (as Lambda kills one at its timeout, or
    ECS stops a task); Step Functions' retry of the leader re-claims the batch and records every call."""
    calls = [deployed.transport.spawn("sizes", (x,)) for x in range(4)]
    first_try = deployed.worker("sizes", calls[0])
    _wait_until(lambda: all(deployed.store.batched_by(c) == calls[0] for c in calls[1:]))
    first_try.kill()  # SIGKILL: nothing is recorded
    first_try.communicate(timeout=30)
    assert [deployed.status(c) for c in calls] == [CallStatus.RUNNING] * 4  # the batch is held by a dead try
    member = deployed.worker("sizes", calls[2])  # a member's own worker: waits for the batch, never reruns it
    retry = deployed.worker("sizes", calls[0], attempt=1)
    assert _finish(retry) == {"call_id": calls[0], "status": "done", "ok": True}
    assert _finish(member) == {"call_id": calls[2], "status": "done", "ok": True}
    results = [deployed.transport.get(c, timeout=0) for c in calls]
    assert [(r["batch"], r["x"]) for r in results] == [(4, 0), (4, 1), (4, 2), (4, 3)]  # one batch, all four


def test_a_retry_takes_back_only_what_is_unfinished_and_still_in_its_batch(deployed: Deployed) -> None:
    store = deployed.store
    leader, done, held, elsewhere = (deployed.transport.spawn("sizes", (x,)) for x in range(4))
    assert store.mark_running(leader)
    assert store.mark_running(done, batched_by=leader) and store.mark_running(held, batched_by=leader)
    assert store.mark_running(elsewhere, batched_by=done)  # another batch's
    assert store.mark_running(elsewhere, batched_by=leader) is False  # noted on the leader, but not claimed
    assert store.complete(done, CallStatus.DONE, b"\x80\x04N.")  # recorded before the first try stopped
    assert store.reclaim_batch(leader) == []  # the first try itself: nothing to take back
    assert store.mark_running(leader, attempt=1)
    assert store.reclaim_batch(leader) == [held]
    assert store.reclaim_batch(leader) == []  # the same try delivered again: never twice
    assert store.mark_running(held, attempt=2) is False  # a member's own retry still leaves it to the batch
    assert store.mark_running(leader, attempt=2) and store.reclaim_batch(leader) == [held]  # a later try
    assert store.batched_by(elsewhere) == done and deployed.status(done) is CallStatus.DONE


def test_a_call_whose_batch_ended_without_it_is_run_by_its_own_worker(deployed: Deployed) -> None:
    """The leader's worker is killed mid-batch and no retry is left: the state machine marks the leader
    failed (here: as `MarkFailed` and the readers' supervision do, one conditional write).  A member's own
    worker, waiting for the batch, takes its call back and runs it; it does not wait out the timeout."""
    from runtime.serialization import serialize_error

    calls = [deployed.transport.spawn("sizes", (x,)) for x in range(3)]
    leader = deployed.worker("sizes", calls[0])
    _wait_until(lambda: all(deployed.store.batched_by(c) == calls[0] for c in calls[1:]))
    leader.kill()
    leader.communicate(timeout=30)
    member = deployed.worker("sizes", calls[1])  # finds its call in the batch, and waits
    assert deployed.store.complete(calls[0], CallStatus.FAILED, serialize_error(RuntimeError("worker gone")))
    assert _finish(member) == {"call_id": calls[1], "status": "done", "ok": True}
    result = deployed.transport.get(calls[1], timeout=0)
    assert (result["batch"], result["x"], result["call"]) == (1, 1, calls[1])  # run alone, under its own call
    assert deployed.store.batched_by(calls[1]) is None and deployed.store.batched_by(calls[2]) == calls[0]
    assert deployed.store.take_back(calls[2], 0) is True and deployed.store.take_back(calls[2], 0) is False


def test_a_batch_whose_leader_is_running_is_not_taken_back(deployed: Deployed) -> None:
    store = deployed.store
    leader, member = (deployed.transport.spawn("sizes", (x,)) for x in range(2))
    assert store.mark_running(leader) and store.mark_running(member, batched_by=leader)
    assert store.take_back(member, 1) is False and store.batched_by(member) == leader
    assert store.take_back(leader, 1) is False  # in no batch: nothing to take back

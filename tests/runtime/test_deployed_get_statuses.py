"""What a deployed ``FunctionCall.get(timeout=...)`` does at each state of its call, on moto's DynamoDB
and S3 (the worker is played by `execute_stored_call`, as the Lambda worker task runs it).

PENDING and RUNNING wait and raise the built-in ``TimeoutError`` naming the state, within the
timeout; DONE returns the value, from S3 when it was claim-checked; FAILED raises the function's own
exception, or `RemoteCallError` carrying the remote traceback when the exception cannot travel.
Settled by Step Functions' Catch: tests/runtime/test_worker_failure.py; by a reader, because the
execution or task is gone: test_call_supervision.py; cancelled: test_deployed_cancel.py.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from runtime.awsclients import client
from runtime.callstore import CallStatus, new_call_id
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.cloud_client import CloudFunctionCall, CloudTransport, RemoteCallError
from runtime.invocation import encode_args
from runtime.worker import call_function, execute_stored_call


class Unpicklable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()  # cannot be pickled: the error travels as text and traceback


def _work(x: int) -> Any:
    if x == -1:
        raise ArithmeticError("negative: -1")
    if x == -2:
        raise Unpicklable("holds a lock")
    return b"r" * x


@pytest.fixture
def deployed(aws: Any) -> tuple[DynamoDBCallStore, CloudTransport]:
    store = DynamoDBCallStore(aws.table, aws.bucket, threshold=1024)  # results over 1 KB go to S3
    return store, CloudTransport("demo", store, {})


def _call(store: DynamoDBCallStore, x: int) -> str:
    call_id = new_call_id()
    store.create(call_id, "demo", "work", encode_args((x,), {}))
    return call_id


def _run(store: DynamoDBCallStore, call_id: str) -> CallStatus:
    return execute_stored_call(store, call_id, lambda payload: call_function(_work, payload))


@pytest.mark.parametrize("running", [False, True], ids=["pending", "running"])
def test_an_unfinished_call_times_out_within_the_timeout_naming_its_state(
        deployed: tuple[DynamoDBCallStore, CloudTransport], running: bool) -> None:
    store, transport = deployed
    call_id = _call(store, 3)
    if running:
        store.mark_running(call_id)
    state = "running" if running else "pending"
    for timeout in (0, 0.5):
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=f"Call {call_id} is still {state} after {timeout} s"):
            CloudFunctionCall.from_id(call_id, transport).get(timeout=timeout)
        assert time.monotonic() - started < timeout + 5  # bounded by the timeout, plus a poll (on a busy machine)


def test_a_claim_checked_result_comes_back_from_s3(deployed: tuple[DynamoDBCallStore, CloudTransport],
                                                   aws: Any) -> None:
    store, transport = deployed
    call_id = _call(store, 300_000)
    assert _run(store, call_id) is CallStatus.DONE
    item = client("dynamodb").get_item(TableName=aws.table, Key={"call_id": {"S": call_id}})["Item"]
    assert "result_ref" in item and "result" not in item  # the item holds the S3 key only
    assert CloudFunctionCall.from_id(call_id, transport).get(timeout=0) == b"r" * 300_000


def test_a_failed_call_raises_its_own_exception(deployed: tuple[DynamoDBCallStore, CloudTransport]) -> None:
    store, transport = deployed
    call_id = _call(store, -1)
    assert _run(store, call_id) is CallStatus.FAILED
    with pytest.raises(ArithmeticError, match="negative: -1"):
        CloudFunctionCall.from_id(call_id, transport).get(timeout=0)


def test_an_exception_that_cannot_travel_arrives_with_its_remote_traceback(
        deployed: tuple[DynamoDBCallStore, CloudTransport]) -> None:
    store, transport = deployed
    call_id = _call(store, -2)
    _run(store, call_id)
    with pytest.raises(RemoteCallError, match=r"Unpicklable: holds a lock") as caught:
        CloudFunctionCall.from_id(call_id, transport).get(timeout=0)
    assert "Remote traceback:" in str(caught.value) and "in _work" in caught.value.remote.traceback


def test_an_unknown_call_is_named(deployed: tuple[DynamoDBCallStore, CloudTransport]) -> None:
    missing = new_call_id()
    with pytest.raises(LookupError, match=f"No call '{missing}': unknown id, or its record expired"):
        CloudFunctionCall.from_id(missing, deployed[1]).get(timeout=0)

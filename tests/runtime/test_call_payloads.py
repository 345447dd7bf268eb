"""Large call inputs and results: claim-checks through S3 (moto), past Lambda's 6 MB and Step
Functions' 256 KB, and the message when no payload bucket is configured.

``.remote()`` runs through `CloudTransport` with a Lambda invoke played by this process's
handler: the event and the reply cross as JSON, as Lambda delivers them, so a test can see
what each would weigh.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from deployed_app import function, write_app
from state_machines import pass_state_machine

from runtime import lambda_handler
from runtime.awsclients import client
from runtime.callstore import CallStatus
from runtime.callstore.claimcheck import CLAIM_CHECK_THRESHOLD, ClaimCheckUnavailableError
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.cloud_client import CloudTransport, FunctionTarget
from runtime.invocation import LAMBDA_SYNC_PAYLOAD_BYTES, STEP_FUNCTIONS_PAYLOAD_BYTES
from runtime.stepfunctions import execution_input

MB = 1024 * 1024
ARN = "arn:aws:lambda:us-east-1:123456789012:function:demo-add:live"


class InProcessLambda:
    """A synchronous invoke of this process's handler, recording the bytes on the wire."""

    def __init__(self) -> None:
        self.event_bytes: list[int] = []
        self.reply_bytes: list[int] = []

    def __call__(self, arn: str, event: dict[str, Any]) -> dict[str, Any]:
        wire = json.dumps(event)
        self.event_bytes.append(len(wire))
        reply = json.dumps(lambda_handler.handler(json.loads(wire), None))
        self.reply_bytes.append(len(reply))
        parsed: dict[str, Any] = json.loads(reply)
        return parsed


Deploy = Callable[[str], CloudTransport]


@pytest.fixture
def deploy(aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deploy]:
    """``deploy(tag)``: this process is ``tag``'s environment; returns a client transport to it."""
    manifest = write_app(tmp_path, [function("add"), function("big")])
    monkeypatch.setenv("TOOLKIT_MANIFEST", str(manifest))
    monkeypatch.setenv("TOOLKIT_APP_ROOT", str(tmp_path))
    machine = pass_state_machine("demo-worker")

    def _deploy(tag: str) -> CloudTransport:
        lambda_handler.shutdown()
        monkeypatch.setenv("TOOLKIT_FUNCTION", tag)
        target = FunctionTarget(tag, ARN, machine)
        return CloudTransport("demo", DynamoDBCallStore.from_env(), {tag: target}, InProcessLambda())

    yield _deploy
    lambda_handler.shutdown()


def claim_checked_keys(bucket: str, call_id: str) -> list[str]:
    listing = client("s3").list_objects_v2(Bucket=bucket, Prefix=f"calls/{call_id}/")
    return sorted(o["Key"].split("/")[-1].split("-")[0] for o in listing.get("Contents", []))


def test_remote_with_an_argument_and_a_result_over_6_mb(deploy: Deploy, aws: Any) -> None:
    transport = deploy("add")
    head, tail = b"a" * (7 * MB), b"b" * MB
    assert transport.remote("add", (head, tail)) == head + tail  # 8 MB back
    invoker = transport._invoke
    assert isinstance(invoker, InProcessLambda)
    # the invoke carried a call id both ways, nowhere near Lambda's 6 MB
    assert max(invoker.event_bytes + invoker.reply_bytes) < 1024 < LAMBDA_SYNC_PAYLOAD_BYTES
    (call_id,) = [i["call_id"]["S"] for i in client("dynamodb").scan(TableName=aws.table)["Items"]]
    assert claim_checked_keys(aws.bucket, call_id) == ["payload", "result"]


def test_spawn_with_a_large_argument_keeps_the_execution_input_small(deploy: Deploy, aws: Any) -> None:
    transport = deploy("add")
    call_id = transport.spawn("add", (b"c" * (7 * MB),), {"b": b"!"})
    assert len(execution_input(call_id, "add")) < STEP_FUNCTIONS_PAYLOAD_BYTES
    reply = lambda_handler.handler({"toolkit_event": "worker_task", "call_id": call_id, "function": "add"}, None)
    assert reply == {"call_id": call_id, "status": "done"}
    assert transport.get(call_id, timeout=0) == b"c" * (7 * MB) + b"!"
    assert claim_checked_keys(aws.bucket, call_id) == ["payload", "result"]


def test_a_large_argument_without_a_payload_bucket_names_the_limit_and_remedy(
    deploy: Deploy, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOOLKIT_PAYLOAD_BUCKET")
    transport = deploy("add")
    with pytest.raises(ClaimCheckUnavailableError) as refused:
        transport.remote("add", (b"a" * (7 * MB), b""))
    message = str(refused.value)
    assert message.startswith("The call's payload is 7,340,") and f"{CLAIM_CHECK_THRESHOLD:,} byte limit" in message
    assert "at most 400 KB" in message and "set TOOLKIT_PAYLOAD_BUCKET to an S3 bucket" in message
    assert "\n" not in message
    assert client("dynamodb").scan(TableName=aws.table)["Items"] == []  # nothing half-recorded


def test_a_large_result_without_a_payload_bucket_fails_the_call_with_why(
    deploy: Deploy, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOOLKIT_PAYLOAD_BUCKET")
    transport = deploy("big")
    with pytest.raises(ClaimCheckUnavailableError, match=r"The call's result is 1,048,\d+ bytes.*TOOLKIT_PAYLOAD_BUCKET"):
        transport.remote("big", (MB,))
    (item,) = client("dynamodb").scan(TableName=aws.table)["Items"]
    assert item["status"]["S"] == CallStatus.FAILED.value  # recorded, not left running


def test_remote_waits_when_a_retried_invoke_finds_the_call_running(deploy: Deploy, aws: Any) -> None:
    """botocore retries an invoke whose connection dropped; the retry finds the first attempt still
    running and replies so.  The caller must wait for that attempt, not report a timeout."""
    transport = deploy("add")

    def retried_invoke(arn: str, event: dict[str, Any]) -> dict[str, Any]:
        call_id = event["call_id"]
        transport.store.mark_running(call_id)  # the first attempt has claimed it and finishes soon...
        first_attempt = threading.Timer(0.3, _finish, (transport, call_id))
        first_attempt.start()
        return {"toolkit_result": "stored", "call_id": call_id, "status": "running"}  # ...the retry's reply

    transport._invoke = retried_invoke
    assert transport.remote("add", (40, 2)) == 42


def _finish(transport: CloudTransport, call_id: str) -> None:
    from runtime.serialization import serialize

    transport.store.complete(call_id, CallStatus.DONE, serialize(42))

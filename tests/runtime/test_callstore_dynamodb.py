"""The DynamoDB call store against a real moto server: lifecycle, exactly-once, claim-checks."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from runtime.awsclients import client
from runtime.callstore import CallStatus, new_call_id
from runtime.callstore.dynamodb import CLAIM_CHECK_THRESHOLD, ClaimCheckUnavailableError, DynamoDBCallStore
from runtime.serialization import deserialize, serialize


@pytest.fixture
def store(aws: Any) -> DynamoDBCallStore:
    return DynamoDBCallStore.from_env()


def test_boto3_honours_aws_endpoint_url(aws: Any) -> None:
    assert client("dynamodb").meta.endpoint_url == aws.endpoint
    assert aws.table in client("dynamodb").list_tables()["TableNames"]


def test_lifecycle_pending_running_done(store: DynamoDBCallStore) -> None:
    call_id = new_call_id()
    created = store.create(call_id, "app", "square", serialize(((3,), {})), owner="alice")
    assert created.status is CallStatus.PENDING
    assert deserialize(store.get_payload(call_id) or b"") == ((3,), {})
    assert store.mark_running(call_id) is True
    assert store.mark_running(call_id) is False  # a second worker must not start it again
    assert store.get(call_id).status is CallStatus.RUNNING  # type: ignore[union-attr]
    assert store.complete(call_id, CallStatus.DONE, serialize(9)) is True
    record = store.get(call_id)
    assert record is not None and record.status is CallStatus.DONE and record.owner == "alice"
    assert deserialize(record.result or b"") == 9 and record.updated_at >= record.created_at


def test_lifecycle_failed_and_no_completion_after(store: DynamoDBCallStore) -> None:
    call_id = new_call_id()
    store.create(call_id, "app", "boom")
    assert store.complete(call_id, CallStatus.FAILED, b"error") is True
    assert store.complete(call_id, CallStatus.DONE, b"late") is False
    assert store.mark_running(call_id) is False
    record = store.get(call_id)
    assert record is not None and record.status is CallStatus.FAILED and record.result == b"error"


def test_ttl_attribute_written(store: DynamoDBCallStore, aws: Any) -> None:
    call_id = new_call_id()
    record = store.create(call_id, "app", "f")
    item = client("dynamodb").get_item(TableName=aws.table, Key={"call_id": {"S": call_id}})["Item"]
    assert int(item["expires_at"]["N"]) == int(record.created_at) + store.ttl_seconds
    ttl = client("dynamodb").describe_time_to_live(TableName=aws.table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


def test_unknown_and_duplicate_ids(store: DynamoDBCallStore) -> None:
    assert store.get("fc-doesnotexist") is None and store.get_payload("fc-doesnotexist") is None
    assert store.mark_running("fc-doesnotexist") is False
    assert store.complete("fc-doesnotexist", CallStatus.DONE, b"") is False
    call_id = new_call_id()
    store.create(call_id, "app", "f")
    with pytest.raises(client("dynamodb").exceptions.ConditionalCheckFailedException):
        store.create(call_id, "app", "f")


def test_complete_exactly_once_under_concurrent_writers(store: DynamoDBCallStore) -> None:
    call_id = new_call_id()
    store.create(call_id, "app", "f")
    store.mark_running(call_id)
    writers, barrier, wins = 16, threading.Barrier(16), []

    def race(n: int) -> None:
        barrier.wait()
        if store.complete(call_id, CallStatus.DONE, serialize(n)):
            wins.append(n)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    record = store.get(call_id)
    assert record is not None and deserialize(record.result or b"") == wins[0]


def test_claim_check_round_trip_2mb(store: DynamoDBCallStore, aws: Any) -> None:
    call_id = new_call_id()
    big_in, big_out = b"i" * (CLAIM_CHECK_THRESHOLD + 1), bytes(range(256)) * 8192  # 2 MiB result
    store.create(call_id, "app", "f", big_in)
    assert store.complete(call_id, CallStatus.DONE, big_out) is True
    assert store.get_payload(call_id) == big_in
    record = store.get(call_id)
    assert record is not None and record.result == big_out
    item = client("dynamodb").get_item(TableName=aws.table, Key={"call_id": {"S": call_id}})["Item"]
    assert "result" not in item and item["result_ref"]["S"].startswith(f"calls/{call_id}/result-")
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket=aws.bucket)["Contents"]]
    assert len(keys) == 2  # payload and result, nothing else


def test_claim_check_losers_leave_no_objects(store: DynamoDBCallStore, aws: Any) -> None:
    call_id = new_call_id()
    store.create(call_id, "app", "f")
    assert store.complete(call_id, CallStatus.DONE, b"a" * (CLAIM_CHECK_THRESHOLD + 1)) is True
    assert store.complete(call_id, CallStatus.DONE, b"b" * (CLAIM_CHECK_THRESHOLD + 1)) is False
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket=aws.bucket)["Contents"]]
    assert len(keys) == 1
    assert (store.get(call_id).result or b"")[:1] == b"a"  # type: ignore[union-attr]


def test_large_blob_without_bucket_names_the_setting(aws: Any) -> None:
    store = DynamoDBCallStore(aws.table, None)
    with pytest.raises(ClaimCheckUnavailableError, match="TOOLKIT_PAYLOAD_BUCKET"):
        store.create(new_call_id(), "app", "f", b"x" * (CLAIM_CHECK_THRESHOLD + 1))

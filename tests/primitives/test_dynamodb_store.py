"""The DynamoDB state store on moto: claim-checks, TTL on ephemeral objects, exact len, misconfiguration."""

from __future__ import annotations

import os

import pytest

import toolkit
from runtime.awsclients import client
from runtime.primitives.dynamodb import INLINE_LIMIT, StateBucketMissingError


def _objects(bucket: str) -> list[str]:
    return [o["Key"] for o in client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_a_value_over_the_item_limit_is_claim_checked_to_s3_and_cleaned_up(state_aws: tuple[str, str]) -> None:
    _, bucket = state_aws
    big = os.urandom(INLINE_LIMIT + 1000)
    d = toolkit.Dict.from_name("blobs", create_if_missing=True)
    d["big"] = big
    [key] = _objects(bucket)
    assert key.startswith("state/dict#blobs/value-")
    assert d["big"] == big
    d["big"] = b"small now"  # the replaced value's object goes away
    assert _objects(bucket) == [] and d["big"] == b"small now"
    q = toolkit.Queue.from_name("blobs", create_if_missing=True)
    q.put(big)
    assert len(_objects(bucket)) == 1 and q.get(timeout=5) == big and _objects(bucket) == []


def test_without_a_state_bucket_a_large_value_names_the_setting(state_aws: tuple[str, str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLKIT_STATE_BUCKET")
    with pytest.raises(StateBucketMissingError, match="set TOOLKIT_STATE_BUCKET"):
        toolkit.Dict.from_name("nobucket", create_if_missing=True).put("k", os.urandom(INLINE_LIMIT + 1))


def test_ephemeral_objects_carry_a_ttl_and_are_deleted_on_exit(state_aws: tuple[str, str]) -> None:
    table, _ = state_aws
    with toolkit.Queue.ephemeral() as q:
        q.put(1)
        meta = client("dynamodb").get_item(TableName=table, Key={"pk": {"S": f"queue#{q.name}"},
                                                                  "sk": {"S": "#meta"}})["Item"]
        assert "expires_at" in meta  # a crash cannot leave it behind forever
    assert client("dynamodb").scan(TableName=table)["Count"] == 0


def test_an_ephemeral_dicts_entries_expire_with_it(state_aws: tuple[str, str]) -> None:
    """A process that dies inside ``with Dict.ephemeral()`` leaves nothing that lives forever."""
    table, _ = state_aws
    with toolkit.Dict.ephemeral({"a": 1}) as d:
        d["b"] = 2
        items = client("dynamodb").scan(TableName=table)["Items"]
        assert len(items) == 3 and all("expires_at" in item for item in items)  # meta and both entries
    named = toolkit.Dict.from_name("kept", create_if_missing=True)
    named["a"] = 1
    assert all("expires_at" not in item for item in client("dynamodb").scan(TableName=table)["Items"])


def test_expired_items_are_invisible_before_ttl_deletes_them(state_aws: tuple[str, str]) -> None:
    table, _ = state_aws
    q = toolkit.Queue.from_name("ttl", create_if_missing=True)
    q.put_many(["old", "new"])
    ddb = client("dynamodb")
    first = ddb.query(TableName=table, KeyConditionExpression="pk = :pk",
                      ExpressionAttributeValues={":pk": {"S": "queue#ttl#p:"}})["Items"][0]
    ddb.update_item(TableName=table, Key={"pk": first["pk"], "sk": first["sk"]},
                    UpdateExpression="SET expires_at = :past", ExpressionAttributeValues={":past": {"N": "1"}})
    assert q.len() == 1 and q.peek(5) == ["new"] and q.get(block=False) == "new"

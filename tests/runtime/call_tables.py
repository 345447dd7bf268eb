"""The app's call table as infra declares it, created on the moto server boto3 points at: with TTL (what the
``aws`` fixture gives every test) or with the sparse ``pending`` index (what the backlog and batching reads
query).  A module of its own so that conftest.py and tests share one definition of each shape."""

from __future__ import annotations

from runtime.awsclients import client


def create_call_table(name: str) -> None:
    """The call table as infra declares it: hash key call_id (S), TTL on expires_at."""
    ddb = client("dynamodb")
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "call_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "call_id", "KeyType": "HASH"}],
    )
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})


def create_indexed_call_table(name: str) -> None:
    """The call table as infra/components/calls.py declares it, with the sparse pending index."""
    client("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "call_id", "AttributeType": "S"},
                              {"AttributeName": "pending_key", "AttributeType": "S"},
                              {"AttributeName": "created_at", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "call_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "pending", "Projection": {"ProjectionType": "KEYS_ONLY"},
                                 "KeySchema": [{"AttributeName": "pending_key", "KeyType": "HASH"},
                                               {"AttributeName": "created_at", "KeyType": "RANGE"}]}])


__all__ = ["create_call_table", "create_indexed_call_table"]

"""The call table's sparse ``pending`` index, which deployed ``@toolkit.batched`` workers query for the
calls they can take into a batch (runtime/worker.py ``execute_stored_batch``)."""

from __future__ import annotations

from infra_mocks import parse_json
from infra_support import Run

from runtime.callstore.dynamodb import BATCHED_BY_ATTR, PENDING_INDEX, PENDING_KEY_ATTR


def test_the_calls_table_declares_the_index_the_runtime_queries(plain_run: Run) -> None:
    table = plain_run.mocks.one("aws:dynamodb/table:Table", "calls").inputs
    (index,) = table["globalSecondaryIndexes"]
    assert (index["name"], index["hashKey"], index["rangeKey"]) == (PENDING_INDEX, PENDING_KEY_ATTR, "created_at")
    assert index["projectionType"] == "KEYS_ONLY"  # the worker reads each claimed call's payload itself
    types = {a["name"]: a["type"] for a in table["attributes"]}
    assert types == {"call_id": "S", PENDING_KEY_ATTR: "S", "created_at": "N"}  # only key attributes are declared
    assert BATCHED_BY_ATTR not in types


def test_functions_may_query_the_index_and_nothing_wider(plain_run: Run) -> None:
    policy = parse_json(plain_run.mocks.one("aws:iam/rolePolicy:RolePolicy", "square-identity").inputs["policy"])
    query = next(s for s in policy["Statement"] if "dynamodb:Query" in s["Action"])
    table_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/plain-app-test-calls"
    assert sorted(query["Resource"]) == [table_arn, f"{table_arn}/index/*"]

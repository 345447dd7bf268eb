"""Fixtures: a TOOLKIT_HOME per test, and ``backend`` -- the same tests on SQLite and on DynamoDB (moto).

The moto server is the suite's (tests/conftest.py, tests/moto_support.py): DynamoDB requests
serialised, as real DynamoDB serialises writes per item, so conditional deletes have one winner.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto_support import use_moto

from runtime.awsclients import client, reset_clients

RUNTIME_TESTS = Path(__file__).resolve().parents[1] / "runtime"
sys.path.insert(0, str(RUNTIME_TESTS))  # deployed_app, runtime_support


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_HOME", str(tmp_path / "home"))
    for name in ("TOOLKIT_STATE_TABLE", "TOOLKIT_STATE_BUCKET"):
        monkeypatch.delenv(name, raising=False)


def create_state_table(name: str) -> None:
    """The state table as infra declares it (infra/components/state.py): pk/sk strings, TTL on expires_at."""
    ddb = client("dynamodb")
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})


@pytest.fixture
def state_aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """Env pointing Dicts and Queues at a fresh state table and bucket on moto: (table, bucket)."""
    use_moto(monkeypatch, moto_endpoint)
    suffix = uuid.uuid4().hex[:8]
    table, bucket = f"toolkit-state-{suffix}", f"toolkit-state-{suffix}"
    create_state_table(table)
    client("s3").create_bucket(Bucket=bucket)
    monkeypatch.setenv("TOOLKIT_STATE_TABLE", table)
    monkeypatch.setenv("TOOLKIT_STATE_BUCKET", bucket)
    yield table, bucket
    reset_clients()


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test on the embedded store, then on the AWS one."""
    if request.param == "dynamodb":
        request.getfixturevalue("state_aws")
    return str(request.param)

"""Fixtures: a TOOLKIT_HOME per test, and ``backend`` -- the same tests on SQLite and on DynamoDB (moto).

The moto server is the one tests/runtime starts (DynamoDB requests serialised, as real DynamoDB
serialises writes per item: conditional deletes must have one winner).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.awsclients import client, reset_clients

RUNTIME_TESTS = Path(__file__).resolve().parents[1] / "runtime"
sys.path.insert(0, str(RUNTIME_TESTS))
_spec = importlib.util.spec_from_file_location("runtime_tests_conftest", RUNTIME_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
moto_support = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = moto_support  # its dataclasses look their module up there
_spec.loader.exec_module(moto_support)


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_HOME", str(tmp_path / "home"))
    for name in ("TOOLKIT_STATE_TABLE", "TOOLKIT_STATE_BUCKET"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def state_moto() -> Iterator[str]:
    from runtime_support import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", moto_support.SERIAL_MOTO_SERVER, "127.0.0.1", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        moto_support._wait_http(f"{endpoint}/moto-api/", process)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


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
def state_aws(state_moto: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """Env pointing Dicts and Queues at a fresh state table and bucket on moto: (table, bucket)."""
    for key in [k for k in __import__("os").environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", state_moto)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_clients()
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

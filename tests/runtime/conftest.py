"""Shared fixtures: a real moto server process, and AWS resources of the shapes infra deploys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from runtime_support import free_port

from runtime.awsclients import client, reset_clients

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
# moto_server's werkzeug runs threaded=True, and moto's DynamoDB checks a ConditionExpression
# and writes without a lock: racing writers both "win" (measured: 3 of 40 runs of the
# 16-writer race).  Real DynamoDB serialises writes per item, so we run the same server
# app as `moto_server -H -p` does, with DynamoDB requests serialised by one lock.  Other
# services stay threaded: a Step Functions execution calls back into the server.
SERIAL_MOTO_SERVER = (
    "import os, sys, threading\n"
    "os.environ['MOTO_PORT'] = sys.argv[2]  # as moto_server sets it: executions call back on it\n"
    "from werkzeug.serving import run_simple\n"
    "from moto.moto_server.threaded_moto_server import DomainDispatcherApplication, create_backend_app\n"
    "app, lock = DomainDispatcherApplication(create_backend_app), threading.Lock()\n"
    "def serial_dynamodb(environ, start_response):\n"
    "    if environ.get('HTTP_X_AMZ_TARGET', '').startswith('DynamoDB_'):\n"
    "        with lock:\n"
    "            return list(app(environ, start_response))\n"
    "    return app(environ, start_response)\n"
    "run_simple(sys.argv[1], int(sys.argv[2]), serial_dynamodb, threaded=True)\n"
)


def _post(url: str, body: object) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer at {url} within {timeout} s")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server app as a separate process on a free loopback port, configured as DESIGN.md §6 says."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERIAL_MOTO_SERVER, "127.0.0.1", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{endpoint}/moto-api/", process)
        _post(f"{endpoint}/moto-api/config", MOTO_CONFIG)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass(frozen=True)
class AwsResources:
    endpoint: str
    table: str
    bucket: str


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsResources]:
    """Env pointing boto3 at moto, plus a fresh call table (TTL on) and payload bucket per test."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_clients()
    # a clean emulator per test; moto 5.2.1 also needs it: with execute_state_machine on, a
    # second StartExecution in the server's lifetime fails (500, deepcopy of an RLock)
    _post(f"{moto_endpoint}/moto-api/reset", {})
    _post(f"{moto_endpoint}/moto-api/config", MOTO_CONFIG)
    suffix = uuid.uuid4().hex[:8]
    resources = AwsResources(moto_endpoint, f"toolkit-calls-{suffix}", f"toolkit-payloads-{suffix}")
    create_call_table(resources.table)
    client("s3").create_bucket(Bucket=resources.bucket)
    monkeypatch.setenv("TOOLKIT_CALLS_TABLE", resources.table)
    monkeypatch.setenv("TOOLKIT_PAYLOAD_BUCKET", resources.bucket)
    yield resources
    reset_clients()


def create_call_table(name: str) -> None:
    """The call table as infra declares it: hash key call_id (S), TTL on expires_at."""
    ddb = client("dynamodb")
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "call_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "call_id", "KeyType": "HASH"}],
    )
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})


@pytest.fixture
def recorded_executions(aws: AwsResources) -> AwsResources:
    """Step Functions that record executions without running them, for tests starting several
    (see the moto bug above).  Tests that need an execution to run use ``aws`` alone."""
    _post(f"{aws.endpoint}/moto-api/config", {"stepfunctions": {"execute_state_machine": False}})
    return aws

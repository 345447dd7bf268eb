"""One moto server for the whole test run, and pointing boto3 at it.

`moto_server` starts moto's server app as a separate process on a free loopback port, configured
as DESIGN.md §6 says; tests/conftest.py holds it as the session fixture ``moto_endpoint``, which
the runtime, primitives, volumes, sandboxes, deploy and Step Functions (tests/infra) tests share.
Each test starts from what it needs: `reset` empties the emulator (a new account), `use_moto` points this process's boto3 (and
the children it starts) at it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from loopback import free_port

MOTO_CONFIG: Mapping[str, Any] = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
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
REGION = "us-east-1"


def post(url: str, body: object) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
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


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server app in its own process on 127.0.0.1 (DynamoDB serialised), configured; its URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERIAL_MOTO_SERVER, "127.0.0.1", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{endpoint}/moto-api/", process)
        post(f"{endpoint}/moto-api/config", MOTO_CONFIG)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def reset(endpoint: str) -> None:
    """An empty emulator, configured again.  moto 5.2.1 also needs it between Step Functions users:
    with execute_state_machine on, a second StartExecution in the server's lifetime fails (500,
    deepcopy of an RLock)."""
    post(f"{endpoint}/moto-api/reset", {})
    post(f"{endpoint}/moto-api/config", MOTO_CONFIG)


def finished_execution(sfn: Any, execution_arn: str, timeout: float = 30) -> dict[str, Any]:
    """The Step Functions execution's description once it is no longer RUNNING (``sfn`` is a stepfunctions
    client); fails naming the timeout if it still runs after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return dict(execution)
        time.sleep(0.1)
    raise AssertionError(f"execution still RUNNING after {timeout} s")


def aws_environ(endpoint: str) -> dict[str, str]:
    """The variables that point boto3 (here or in a child process) at ``endpoint`` with test keys."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}


def use_moto(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """This test's environment holds no AWS_* of the machine's, only `aws_environ`; clients made
    before it (the runtime's cache, boto3's default session) are dropped."""
    import boto3

    from runtime.awsclients import reset_clients

    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in aws_environ(endpoint).items():
        monkeypatch.setenv(key, value)
    boto3.DEFAULT_SESSION = None
    reset_clients()

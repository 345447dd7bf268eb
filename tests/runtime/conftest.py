"""Shared fixtures: AWS resources of the shapes infra deploys, on the suite's moto server
(tests/moto_support.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from call_tables import create_call_table
from moto_support import post, reset, use_moto
from web_server_lambda import deploy_echo_server, stop_listener

from runtime import lambda_handler
from runtime.awsclients import client, reset_clients


@dataclass(frozen=True)
class AwsResources:
    endpoint: str
    table: str
    bucket: str


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsResources]:
    """Env pointing boto3 at moto (tests/conftest.py's server, emptied), plus a fresh call table
    (TTL on) and payload bucket per test."""
    use_moto(monkeypatch, moto_endpoint)
    reset(moto_endpoint)
    suffix = uuid.uuid4().hex[:8]
    resources = AwsResources(moto_endpoint, f"toolkit-calls-{suffix}", f"toolkit-payloads-{suffix}")
    create_call_table(resources.table)
    client("s3").create_bucket(Bucket=resources.bucket)
    monkeypatch.setenv("TOOLKIT_CALLS_TABLE", resources.table)
    monkeypatch.setenv("TOOLKIT_PAYLOAD_BUCKET", resources.bucket)
    yield resources
    reset_clients()


@pytest.fixture
def recorded_executions(aws: AwsResources) -> AwsResources:
    """Step Functions that record executions without running them, for tests starting several
    (see the moto bug above).  Tests that need an execution to run use ``aws`` alone."""
    post(f"{aws.endpoint}/moto-api/config", {"stepfunctions": {"execute_state_machine": False}})
    return aws


@pytest.fixture
def web_server_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., int]]:
    """Deploys a ``web_server`` function as the Lambda handler sees it (web_server_lambda.py; keyword
    arguments go to its ``web`` settings) and returns its port; its servers are stopped afterwards."""
    ports: list[int] = []

    def deploy(**web: Any) -> int:
        ports.append(deploy_echo_server(tmp_path, monkeypatch, **web))
        return ports[-1]

    yield deploy
    lambda_handler.shutdown()
    for port in ports:
        stop_listener(port)

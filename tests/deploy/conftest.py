"""Fixtures of the deploy tests: the FAKE pulumi (tests/deploy/fake_pulumi/pulumi first on PATH,
with a clean environment: fake AWS keys, a region, an isolated TOOLKIT_HOME), the suite's moto server
(emptied per test), and a LocalStack stand-in that answers ``/_localstack/health`` like a chosen edition."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_helpers import FAKE_PULUMI_DIR, FakePulumi, HealthServer, base_env, no_pulumi_path
from moto_support import reset


@pytest.fixture
def fake_pulumi(tmp_path: Path) -> FakePulumi:
    env = base_env(tmp_path, [FAKE_PULUMI_DIR, *no_pulumi_path(tmp_path)])
    env.update(FAKE_PULUMI_DIR=str(tmp_path / "fake" / "state"), FAKE_PULUMI_SCENARIO=str(tmp_path / "fake" / "scenario.json"),
               AWS_ACCESS_KEY_ID="AKIAFAKEFAKEFAKE", AWS_SECRET_ACCESS_KEY="fake-secret", AWS_REGION="eu-west-1")
    fake = FakePulumi(tmp_path / "fake", env)
    fake.dir.mkdir()
    fake.scenario()
    return fake


@pytest.fixture
def localstack() -> Iterator[HealthServer]:
    """A LocalStack stand-in on 127.0.0.1 offering every service (a Pro edition) until told otherwise."""
    server = HealthServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def moto_endpoint(moto_endpoint: str) -> str:
    """The suite's moto server (tests/conftest.py), emptied: each test starts with a new account."""
    reset(moto_endpoint)
    return moto_endpoint

"""The FAKE pulumi fixture: tests/deploy/fake_pulumi/pulumi first on PATH, with a clean
environment (fake AWS keys, a region, an isolated TOOLKIT_HOME)."""

from __future__ import annotations

from pathlib import Path

import pytest
from deploy_helpers import FAKE_PULUMI_DIR, FakePulumi, base_env, no_pulumi_path


@pytest.fixture
def fake_pulumi(tmp_path: Path) -> FakePulumi:
    env = base_env(tmp_path, [FAKE_PULUMI_DIR, *no_pulumi_path(tmp_path)])
    env.update(FAKE_PULUMI_DIR=str(tmp_path / "fake" / "state"), FAKE_PULUMI_SCENARIO=str(tmp_path / "fake" / "scenario.json"),
               AWS_ACCESS_KEY_ID="AKIAFAKEFAKEFAKE", AWS_SECRET_ACCESS_KEY="fake-secret", AWS_REGION="eu-west-1")
    fake = FakePulumi(tmp_path / "fake", env)
    fake.dir.mkdir()
    fake.scenario()
    return fake

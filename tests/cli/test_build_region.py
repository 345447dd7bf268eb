"""`toolkit build` takes its AWS region from --region, else AWS_REGION (which botocore itself ignores)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def no_aws_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "no-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"), TOOLKIT_HOME=str(tmp_path / "home"))
    return env


def test_build_without_any_region_is_one_line_saying_how_to_set_one(tmp_path: Path) -> None:
    import subprocess
    import sys

    from cli_helpers import REPO

    result = subprocess.run([sys.executable, "-m", "toolkit.cli", "build", "examples/hello.py"], cwd=REPO,
                            env=no_aws_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "NoRegionError" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: No AWS region is configured; pass --region us-east-1, set AWS_REGION, "
        "or run `aws configure set region us-east-1`.")


def test_build_region_comes_from_the_option_then_aws_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import boto3

    from toolkit.cli.build_cmd import use_aws_region

    for key, value in no_aws_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "recorded")  # so monkeypatch restores it after use_aws_region writes it
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert use_aws_region(None) == "eu-central-1"
    assert boto3.session.Session().region_name == "eu-central-1"  # what the ECR and CodeBuild clients get
    assert use_aws_region("ap-south-1") == "ap-south-1"
    assert boto3.session.Session().client("ecr").meta.region_name == "ap-south-1"


"""Fixtures: a TOOLKIT_HOME and a mount path per test; a bucket on the suite's moto server for the deployed store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto_support import use_moto

from runtime.awsclients import client, reset_clients
from toolkit.volume import BUCKET_ENV


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(BUCKET_ENV, raising=False)


@pytest.fixture
def mount_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where this test's functions mount the volume (under tmp: no two tests share a link)."""
    path = tmp_path / "mnt" / "data"
    monkeypatch.setenv("VOLUME_TEST_MOUNT", str(path))
    monkeypatch.setenv("VOLUME_TEST_APP", f"volumes-{uuid.uuid4().hex[:8]}")
    return path


@pytest.fixture
def volume_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh volume bucket on moto (the suite's server); boto3 in this process (and children) pointed at it."""
    use_moto(monkeypatch, moto_endpoint)
    bucket = f"toolkit-volumes-{uuid.uuid4().hex[:8]}"
    client("s3").create_bucket(Bucket=bucket)
    yield bucket
    reset_clients()

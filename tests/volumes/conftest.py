"""Fixtures: a TOOLKIT_HOME and a mount path per test; a moto server (S3) for the deployed store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def volume_bucket(moto_s3: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh volume bucket on moto; boto3 in this process (and children) pointed at it."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_clients()
    bucket = f"toolkit-volumes-{uuid.uuid4().hex[:8]}"
    client("s3").create_bucket(Bucket=bucket)
    yield bucket
    reset_clients()

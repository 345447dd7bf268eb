"""Sandbox tests run real containers: podman configured as DESIGN.md §6 says, the debootstrap base
image the image tests build (shared, cached per day), and nothing of the host mounted."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "images"))
from aws_support import plan_resources, reset  # noqa: E402
from image_tools import (  # noqa: E402
    BASE_MIRROR,
    debian_mirror,
    ensure_base_image,
    require_tools,
    write_containers_conf,
)
from moto_support import use_moto  # noqa: E402
from sandbox_support import wait_no_containers  # noqa: E402

import toolkit  # noqa: E402
from runtime.awsclients import reset_clients  # noqa: E402
from toolkit.sandboxes.aws import AwsSandboxes  # noqa: E402


@pytest.fixture(scope="session")
def sandbox_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    require_tools("podman", "runc")
    conf = write_containers_conf(tmp_path_factory.mktemp("podman"))
    saved = {k: os.environ.get(k) for k in ("CONTAINERS_CONF", "TOOLKIT_BASE_MIRRORS")}
    os.environ["CONTAINERS_CONF"] = str(conf)
    os.environ["TOOLKIT_BASE_MIRRORS"] = BASE_MIRROR  # debian_slim("3.11") -> the debootstrap base
    yield {**os.environ}
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def base_ref(sandbox_env: dict[str, str]) -> str:
    require_tools("debootstrap")
    ensure_base_image(debian_mirror(), sandbox_env)
    return "localhost/toolkit-test-base:3.11-slim-bookworm"


@pytest.fixture(scope="session")
def image(base_ref: str) -> toolkit.Image:
    return toolkit.Image.from_registry(base_ref)


@pytest.fixture
def app() -> toolkit.App:
    return toolkit.App.lookup("sandbox-tests", create_if_missing=True)


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every sandbox test ends with no sandbox container left behind."""
    yield
    if "sandbox_env" in request.fixturenames:
        for sb in toolkit.Sandbox.list():
            if sb._record.creator_pid == os.getpid():
                sb.terminate()
        assert wait_no_containers() == []


# -- the AWS side, on the suite's moto server (tests/conftest.py; resources: tests/sandboxes/aws_support.py) --

@pytest.fixture
def endpoint(moto_endpoint: str) -> str:
    """The suite's moto server, under the name these tests use."""
    return moto_endpoint


@pytest.fixture
def sandboxes(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsSandboxes]:
    use_moto(monkeypatch, endpoint)
    reset(endpoint)
    yield AwsSandboxes(plan_resources())
    reset_clients()

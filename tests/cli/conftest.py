"""Fixtures of the CLI tests: a moto server on loopback, and the environment that points the CLI at it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from loopback import free_port


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_server: str) -> dict[str, str]:
    """An empty moto account, and the variables that send the CLI's boto3 clients to it."""
    httpx.post(f"{moto_server}/moto-api/reset", timeout=10, trust_env=False).raise_for_status()
    return {"AWS_ENDPOINT_URL": moto_server, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "NO_PROXY": "127.0.0.1"}

"""Session fixtures for the image tests: podman's config, the cached base image, a registry."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from image_tools import (
    BASE_MIRROR,
    SYSTEM_CA,
    LocalRegistry,
    debian_mirror,
    ensure_base_image,
    require_tools,
    start_registry,
    write_containers_conf,
)


@pytest.fixture(scope="session")
def podman_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment every podman/toolkit process of the session gets (DESIGN.md §6)."""
    require_tools("podman", "runc")
    conf = write_containers_conf(tmp_path_factory.mktemp("podman"))
    env = {**os.environ, "CONTAINERS_CONF": str(conf), "TOOLKIT_BASE_MIRRORS": BASE_MIRROR, "TOOLKIT_BUILDER": "podman"}
    if SYSTEM_CA.exists():  # pip inside RUN steps trusts what the host trusts (TLS-intercepting egress)
        env["TOOLKIT_BUILD_CA_BUNDLE"] = str(SYSTEM_CA)
    saved = os.environ.get("CONTAINERS_CONF")
    os.environ["CONTAINERS_CONF"] = str(conf)  # for in-process podman calls (run_container)
    yield env
    if saved is None:
        os.environ.pop("CONTAINERS_CONF", None)
    else:
        os.environ["CONTAINERS_CONF"] = saved


@pytest.fixture(scope="session")
def base_image(podman_env: dict[str, str]) -> str:
    require_tools("debootstrap")
    return ensure_base_image(debian_mirror(), podman_env)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    require_tools("docker-registry")
    started = start_registry(tmp_path_factory.mktemp("registry"))
    yield started
    started.stop()

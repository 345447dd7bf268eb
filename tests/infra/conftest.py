"""Module fixtures for the infra tests: the program run once per fixture manifest."""

from __future__ import annotations

import pytest
from infra_support import Run, load_fixture, run_program, settings_for


@pytest.fixture(scope="module")
def web_run() -> Run:
    return run_program(settings_for(load_fixture("web"), base_domain="toolkit.example.com", hosted_zone="example.com"))


@pytest.fixture(scope="module")
def gpu_run() -> Run:
    return run_program(settings_for(load_fixture("gpu")))


@pytest.fixture(scope="module")
def plain_run() -> Run:
    return run_program(settings_for(load_fixture("plain")))

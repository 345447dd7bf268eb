"""Ephemeral runs that serve (issue 16 item 3): ``toolkit run`` and ``with app.run():`` serve the app's
web endpoints for the run, and ``*.localhost`` URLs resolve in the run's process and its workers."""

from __future__ import annotations

import subprocess
import sys

import pytest
from core_helpers import REPO, toolkit_cli

from toolkit.localhost import is_localhost_name
from toolkit.lookup import newest_serve_of

pytestmark = pytest.mark.timeout(180)

APP = REPO / "tests" / "fixtures" / "apps" / "ephemeral_app.py"
# fetched from the run's process, a function's worker, and a served endpoint's worker
EXPECTED = "default--ephemeral-app-hello-dev.localhost here=run worker=w endpoint=relayed relay"


def test_toolkit_run_serves_the_apps_endpoints_for_the_run() -> None:
    result = toolkit_cli("run", str(APP))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == EXPECTED
    assert "toolkit: ✓ hello => http://default--ephemeral-app-hello-dev.localhost:" in result.stderr
    assert "toolkit: ✓ relay => http://default--ephemeral-app-relay-dev.localhost:" in result.stderr
    assert newest_serve_of("ephemeral-app") is None  # stopped with the run


def test_app_run_serves_from_a_plain_script_and_enable_output_shows_the_urls() -> None:
    result = subprocess.run([sys.executable, str(APP)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    shown = sorted(lines[:2])  # enable_output: each served endpoint's URL
    assert shown[0].startswith("✓ hello => http://default--ephemeral-app-hello-dev.localhost:"), shown
    assert shown[1].startswith("✓ relay => http://default--ephemeral-app-relay-dev.localhost:"), shown
    assert lines[2:] == [EXPECTED, "after: None"]  # outside the block there is no local URL any more
    assert newest_serve_of("ephemeral-app") is None


def test_no_serve_runs_without_serving() -> None:
    result = toolkit_cli("run", f"{APP}::fetch_in_worker", "--url", "http://nothing.localhost:9/", "--no-serve")
    assert result.returncode != 0
    assert "toolkit: ✓" not in result.stderr  # nothing was served
    assert "Connection refused" in result.stderr  # resolved to loopback in the worker, where nothing listens


@pytest.mark.parametrize(("host", "expected"), [
    ("default--app-hello-dev.localhost", True), ("A.LOCALHOST.", True), (b"x.localhost", True),
    ("localhost", False), ("localhost.example.com", False), ("notlocalhost", False), (None, False),
])
def test_which_names_are_localhost(host: object, expected: bool) -> None:
    assert is_localhost_name(host) is expected

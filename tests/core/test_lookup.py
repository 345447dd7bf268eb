"""Lookups across processes (issue 16 item 2): a second Python process finds the app a running
``toolkit serve`` loaded, by name, through the serve registry, and calls it in its own local workers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from core_helpers import REPO

pytestmark = pytest.mark.timeout(180)

sys.path.insert(0, str(REPO / "tests" / "serve"))
from serving import Served  # noqa: E402 - the serve suite's real `toolkit serve` subprocess

CLIENT = REPO / "examples" / "clients" / "lookup_client.py"


def python(code_or_file: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    args = [str(code_or_file)] if isinstance(code_or_file, Path) else ["-c", code_or_file]
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    serve = Served(REPO / "examples" / "lookups.py", "--no-reload")
    try:
        yield serve
    finally:
        serve.stop()


def test_a_second_process_finds_a_served_app_and_calls_it(served: Served, tmp_path: Path) -> None:
    result = python(CLIENT, cwd=tmp_path)  # another directory: the registry records the absolute path
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "remote=16 map=[1, 4, 9] spawned=49 counter=15 app=lookups "
        f"url=http://default--lookups-hello-dev.localhost:{served.port}"
    )


def test_a_call_spawned_by_one_process_is_collected_by_another(served: Served, tmp_path: Path) -> None:
    # The spawner owns its call (`toolkit.local.ownership`), so it stays up until the call is done.
    code = ("import sys, toolkit; call = toolkit.Function.from_name('lookups', 'square').spawn(9); "
            "print(call.object_id, flush=True); call.get(timeout=60)")
    with subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE, text=True) as spawner:
        assert spawner.stdout is not None
        call_id = spawner.stdout.readline().strip()
        collect = python(f"import toolkit; print(toolkit.FunctionCall.from_id({call_id!r}).get(timeout=60))",
                         cwd=tmp_path)
        assert spawner.wait(timeout=60) == 0
    assert collect.returncode == 0, collect.stderr
    assert collect.stdout.strip() == "81"


def test_not_found_names_what_was_searched(served: Served, tmp_path: Path) -> None:
    result = python("import toolkit; toolkit.Function.from_name('no-such-app', 'f')", cwd=tmp_path)
    assert result.returncode != 0
    assert "No app named 'no-such-app'" in result.stderr
    assert "registry.json (serving now: lookups" in result.stderr  # the registry it read, and what it holds
    wrong = python("import toolkit; toolkit.Cls.from_name('lookups', 'Nope')", cwd=tmp_path)
    assert "App 'lookups' has no class 'Nope'; its classes are: Counter." in wrong.stderr
    created = python("import toolkit; print(toolkit.App.lookup('fresh-app', create_if_missing=True).name)",
                     cwd=tmp_path)
    assert created.stdout.strip() == "fresh-app", created.stderr

"""`toolkit build` as a person sees it: on a terminal, one live status per image with the build's
step counter and its time at the end; in a pipe, plain lines without escape sequences."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cli.pty_run import ANSI, run_in_pty, visible
from image_tools import run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

APP = '''
import toolkit

image = toolkit.Image.debian_slim("3.11").env({{"BUILD_ID": "{build_id}"}}).run_commands("echo built {build_id}")
app = toolkit.App("progress-build", image=image)


@app.function()
def hello():
    return "hi"
'''
BUILDING = re.compile(r"Building image (localhost/toolkit/progress-build:[0-9a-f]+) with podman \(functions: hello\)")


def _app(directory: Path) -> tuple[Path, str]:
    directory.mkdir()
    build_id = uuid.uuid4().hex
    (directory / "buildapp.py").write_text(APP.format(build_id=build_id))  # new inputs: a real build
    return directory, build_id


def _remove(ref: str, env: dict[str, str]) -> None:
    run(["podman", "rmi", "--force", ref], env=env)


def test_on_a_terminal_a_live_status_with_step_counters_and_the_time(tmp_path: Path, podman_env: dict[str, str],
                                                                     base_image: str) -> None:
    app, _build_id = _app(tmp_path / "app")
    code, output = run_in_pty([sys.executable, "-m", "toolkit.cli", "build", "buildapp.py", "--no-push"], cwd=app,
                              env=podman_env, timeout=500)
    shown = visible(output)
    assert code == 0, shown
    assert ANSI.search(output)
    built = BUILDING.search(shown)
    assert built is not None, shown
    try:
        counters = {int(m.group(1)) for m in re.finditer(r"\[(\d+)/(\d+)\] ", shown)}
        assert 1 in counters and len(counters) > 3, shown  # the step counter moved through the build
        assert f"✓ {built.group(0)} done in " in shown, shown
        assert re.search(r"^hello\t" + re.escape(built.group(1)) + r"@sha256:[0-9a-f]+\tbuilt$", shown, re.M), shown
    finally:
        _remove(built.group(1), podman_env)


def test_in_a_pipe_plain_lines_without_escape_sequences(tmp_path: Path, podman_env: dict[str, str],
                                                        base_image: str) -> None:
    app, build_id = _app(tmp_path / "app")
    done = subprocess.run([sys.executable, "-m", "toolkit.cli", "build", "buildapp.py", "--no-push"], cwd=app,
                          env=podman_env, capture_output=True, text=True, timeout=500)
    assert done.returncode == 0, done.stderr
    built = BUILDING.search(done.stderr)
    assert built is not None, done.stderr
    try:
        assert "\x1b" not in done.stderr + done.stdout
        lines = done.stderr.splitlines()
        assert f"{built.group(0)} ..." in lines
        steps = [line for line in lines if re.match(r"^  \[\d+/\d+\] ", line)]
        assert steps[0].startswith("  [1/") and " FROM " in steps[0]
        assert f"    built {build_id}" in lines  # a RUN step's output, under its step
        assert re.search(rf"^{re.escape(built.group(0))}: done in \d+\.\ds$", done.stderr, re.M), done.stderr
        assert done.stdout.startswith(f"hello\t{built.group(1)}@")  # the answer, alone on stdout
    finally:
        _remove(built.group(1), podman_env)

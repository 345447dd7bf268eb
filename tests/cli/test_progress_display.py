"""`toolkit.progress`: what a person sees of long work, on a terminal (a pty) and not, and what
scripts get (--quiet, --json-logs); then the same through `toolkit run` building a local environment."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
from pty_run import ANSI, run_in_pty, visible

REPO = Path(__file__).resolve().parents[2]
RUN_WITHIN_S = 60

# A command with one task: two steps announced by its tool's output, one output line, one step set directly.
SCRIPT = textwrap.dedent('''
    import sys, time
    from toolkit.progress import Display, Step

    def parse(line):
        if line.startswith("STEP "):
            number, text = line[5:].split(" ", 1)
            return Step(int(number), 3, text)
        return None

    display = Display.choose(quiet="--quiet" in sys.argv, json_logs="--json-logs" in sys.argv)
    display("a note before any task")
    try:
        with display.task("Building thing", steps=parse) as task:
            display("STEP 1 FROM base")
            time.sleep(0.3)
            display("some tool output")
            display("STEP 2 RUN make")
            time.sleep(0.3)
            task.step("finishing")
            if "--fail" in sys.argv:
                raise RuntimeError("make failed")
    except RuntimeError:
        sys.exit(1)
''')


def _script(*args: str, pty: bool) -> tuple[int, bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", SCRIPT, *args]
    if pty:
        return run_in_pty(command, cwd=REPO, env=env, timeout=RUN_WITHIN_S)
    import subprocess

    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, timeout=RUN_WITHIN_S)
    assert done.stdout == b""  # progress never mixes with a command's answer
    return done.returncode, done.stderr


def test_on_a_terminal_a_live_status_with_step_counters_ends_in_one_line() -> None:
    code, output = _script(pty=True)
    assert code == 0, output
    assert ANSI.search(output)  # drawn: colours and a status line redrawn in place
    shown = visible(output)
    for step in ("[1/3] FROM base", "[2/3] RUN make", "[3/3] finishing"):
        assert step in shown, shown
    assert "a note before any task" in shown
    final = [line for line in shown.splitlines() if "done in" in line]
    assert final and final[-1].startswith("✓ Building thing done in ") and final[-1].endswith("s"), shown


def test_without_a_terminal_plain_lines_and_no_escape_sequences() -> None:
    code, output = _script(pty=False)
    assert code == 0
    assert b"\x1b" not in output
    lines = output.decode().splitlines()
    assert lines[:6] == ["a note before any task", "Building thing ...", "  [1/3] FROM base", "    some tool output",
                         "  [2/3] RUN make", "  [3/3] finishing"], lines
    assert lines[6].startswith("Building thing: done in ") and len(lines) == 7, lines


def test_a_failed_task_says_how_long_it_ran() -> None:
    code, output = _script("--fail", pty=False)
    assert code == 1 and output.decode().splitlines()[-1].startswith("Building thing: failed after ")
    code, output = _script("--fail", pty=True)
    assert code == 1 and "✗ Building thing failed after " in visible(output)


def test_quiet_shows_nothing_and_json_logs_gives_one_event_per_line() -> None:
    assert _script("--quiet", pty=False) == (0, b"")
    code, output = _script("--json-logs", pty=False)
    assert code == 0
    events = [json.loads(line) for line in output.decode().splitlines()]
    assert [(e["event"], e.get("state") or e.get("step") or e.get("line") or e.get("text")) for e in events] == [
        ("note", "a note before any task"), ("task", "started"), ("step", 1), ("output", "some tool output"),
        ("step", 2), ("step", 3), ("task", "done")]
    assert events[2] == {**events[2], "task": "Building thing", "total": 3, "text": "FROM base"}
    assert events[-1]["seconds"] > 0 and all(isinstance(e["time"], float) for e in events)


# -- through the CLI: `toolkit run` builds an image's local environment --------------------------------

APP = '''
import toolkit

app = toolkit.App("progress-env", image=toolkit.Image.debian_slim().pip_install("six=={six}"))


@app.function()
def version() -> str:
    import six
    return six.__version__
'''


@pytest.mark.slow
@pytest.mark.parametrize("on_terminal", [True, False], ids=["pty", "pipe"])
def test_toolkit_run_shows_the_environment_being_built(tmp_path: Path, on_terminal: bool) -> None:
    (tmp_path / "envapp.py").write_text(APP.format(six="1.16.0"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOOLKIT_HOME": str(tmp_path / "home"), "TOOLKIT_LOCAL_ENV": "image"}
    command = [sys.executable, "-m", "toolkit.cli", "run", "envapp.py::version"]
    if on_terminal:
        code, output = run_in_pty(command, cwd=tmp_path, env=env, timeout=300)
        shown = visible(output)
        assert code == 0, shown
        assert "[2/3] uv pip install six==1.16.0" in shown
        assert "✓ building the local environment for image " in shown and " with uv (1 packages, 0 files) done in " \
            in shown, shown
    else:
        import subprocess

        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stderr
        lines = done.stderr.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("building the local environment"))
        assert lines[start].endswith("with uv (1 packages, 0 files) ...")
        assert lines[start + 1].startswith("  [1/3] uv venv ")
        assert lines[start + 2] == "  [2/3] uv pip install six==1.16.0 (and toolkit's worker requirements)"
        assert lines[start + 3] == "  [3/3] linking toolkit's worker code into the environment"
        assert lines[start + 4].startswith("building the local environment for image ") and ": done in " in lines[
            start + 4]
        assert done.stdout.strip().endswith("1.16.0")


WEB_APP = '''
import toolkit

app = toolkit.App("progress-serve", image=toolkit.Image.debian_slim().pip_install("six==1.16.0"))


@app.function()
@toolkit.fastapi_endpoint()
def version() -> str:
    import six
    return six.__version__
'''


@pytest.mark.slow
def test_serve_with_json_logs_reports_the_environment_build_as_json_events(tmp_path: Path) -> None:
    from cli_helpers import Serve

    (tmp_path / "webenv.py").write_text(WEB_APP)
    env = {"PYTHONPATH": str(REPO), "TOOLKIT_HOME": str(tmp_path / "home"), "TOOLKIT_LOCAL_ENV": "image"}
    serve = Serve(tmp_path / "webenv.py", tmp_path / "serve.log", cwd=tmp_path, env=env, extra=("--json-logs",))
    try:
        serve.wait_ready()
        assert serve.get("progress-serve-version").json() == "1.16.0"
        events = [json.loads(line) for line in serve.output().splitlines() if line.startswith("{")]
        building = [e for e in events if str(e.get("task", "")).startswith("building the local environment")]
        assert [e.get("state") or e["event"] for e in building] == ["started", "step", "step", "step", "done"]
        assert building[2]["text"] == "uv pip install six==1.16.0 (and toolkit's worker requirements)"
    finally:
        serve.stop()

"""Ctrl-C on `toolkit serve` with a request in flight: the first says what it waits for and ends
within its bound with no traceback; a second stops at once and leaves no worker behind."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
from cli_helpers import Serve
from pids import alive

APP = '''
import os
import time

import toolkit

app = toolkit.App("slow")


@app.function()
@toolkit.fastapi_endpoint()
def wait(marks: str, s: float = 60):
    with open(os.path.join(marks, "worker.pid"), "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(s)
    return "done"
'''


def start_with_request_in_flight(tmp_path: Path) -> tuple[Serve, int]:
    (tmp_path / "slow.py").write_text(APP)
    serve = Serve(tmp_path / "slow.py", tmp_path / "serve.log", cwd=tmp_path)
    serve.wait_ready()
    pid_file = tmp_path / "worker.pid"
    threading.Thread(target=lambda: _swallow(serve, tmp_path), daemon=True).start()
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, serve.output()
        time.sleep(0.05)
    return serve, int(pid_file.read_text())


def _swallow(serve: Serve, marks: Path) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the serve stopping under it is the point
        serve.get("slow-wait", f"/?marks={marks}", timeout=90)


def wait_exit(serve: Serve, bound: float) -> None:
    try:
        serve.proc.wait(timeout=bound)
    except subprocess.TimeoutExpired:
        serve.proc.kill()
        raise AssertionError(f"toolkit serve still running {bound} s after Ctrl-C:\n{serve.output()}") from None


def gone(pid: int, bound: float = 5) -> bool:
    """The worker has exited (an exited child of a dead serve is reaped by init, not at once)."""
    deadline = time.monotonic() + bound
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def test_first_ctrl_c_says_what_it_waits_for_and_ends_within_its_bound(tmp_path: Path) -> None:
    serve, worker = start_with_request_in_flight(tmp_path)
    serve.proc.send_signal(signal.SIGINT)
    wait_exit(serve, 30)  # 3 s drain + 5 s for the workers, with room for a busy machine
    output = serve.output()
    assert "Stopping: waiting up to 3 s for 1 request in flight, then up to 5 s for the workers to stop " \
           "(Ctrl-C again to stop at once)." in output, output
    assert "Traceback" not in output and "CancelledError" not in output, output
    assert "[wait] a request was cut off: toolkit serve stopped before it finished" in output, output
    assert gone(worker)


def test_second_ctrl_c_stops_at_once_and_kills_the_workers(tmp_path: Path) -> None:
    serve, worker = start_with_request_in_flight(tmp_path)
    serve.proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 10
    while "Stopping:" not in serve.output():
        assert time.monotonic() < deadline, serve.output()
        time.sleep(0.05)
    serve.proc.send_signal(signal.SIGINT)
    wait_exit(serve, 3)  # well under the first Ctrl-C's 8 s: nothing is waited for
    output = serve.output()
    assert "Stopping now: 1 worker killed." in output, output
    assert "Traceback" not in output, output
    assert gone(worker)

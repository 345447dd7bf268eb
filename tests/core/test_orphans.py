"""Orphaned work: a `toolkit run` killed with kill -9 leaves no worker finishing its calls.

Its spawned calls read as lost (`CallLostError`, "spawn it again"), so a worker that went on
would run the work a second time beside the retry.  Real processes throughout: the CLI in a
subprocess, its real worker processes, the real SQLite call store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from core_helpers import REPO

import toolkit
from runtime.callstore import CallStatus, SQLiteCallStore, new_call_id
from runtime.serialization import serialize, serialize_error

pytestmark = pytest.mark.timeout(120)

WORK_S = 4.0  # the spawned work writes its "finished" mark after this long
STOP_WAIT_S = 30.0  # bound on waiting for a process to go (generous: the machine is shared)

ORPHAN_APP = '''
import os
import sys
import time

import toolkit

app = toolkit.App("orphans")


@app.function()
def slow_mark(marks: str, seconds: float) -> str:
    open(os.path.join(marks, f"started-{os.getpid()}"), "w").close()
    time.sleep(seconds)
    open(os.path.join(marks, "finished"), "w").close()
    return "done"


@app.local_entrypoint()
def main(marks: str, seconds: float, fork: bool = False) -> None:
    call = slow_mark.spawn(marks, seconds)
    print(call.object_id, flush=True)
    if fork and os.fork() == 0:  # a child that holds this process's end of every worker socket
        open(os.path.join(marks, f"child-{os.getpid()}"), "w").close()
        time.sleep(300)
        os._exit(0)
    time.sleep(300)
'''


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def wait_until(predicate: Callable[[], object], what: str, timeout: float = STOP_WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def started_pids(marks: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in marks.glob("started-*")]


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Pids to kill after the test whatever happened (the forked child; a worker the code under test left)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if running(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("fork", [False, True], ids=["plain", "socket-held-by-a-forked-child"])
def test_kill_9_of_toolkit_run_stops_its_workers_and_the_call_is_lost(
        tmp_path: Path, fork: bool, leftovers: list[int]) -> None:
    app_file, marks = tmp_path / "orphans.py", tmp_path / "marks"
    app_file.write_text(ORPHAN_APP)
    marks.mkdir()
    args = ["run", str(app_file), "--marks", str(marks), "--seconds", str(WORK_S), *(["--fork"] if fork else [])]
    run = subprocess.Popen([sys.executable, "-m", "toolkit.cli.__main__", *args], cwd=REPO,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert run.stdout is not None
        call_id = run.stdout.readline().strip()
        assert call_id.startswith("fc-"), call_id
        wait_until(lambda: started_pids(marks), "the spawned call to start in a worker", timeout=60)
        (worker,) = started_pids(marks)
        leftovers.append(worker)
        if fork:
            wait_until(lambda: list(marks.glob("child-*")), "the forked child to start")
            leftovers.extend(int(p.name.split("-")[1]) for p in marks.glob("child-*"))
    finally:
        run.kill()  # SIGKILL: no atexit, no shutdown message to the workers
        run.wait(timeout=10)

    # The caller is told at once, not after a timeout, and the worker is gone before its work could end.
    with pytest.raises(toolkit.CallLostError, match=call_id):
        toolkit.FunctionCall.from_id(call_id).get(timeout=5)
    wait_until(lambda: not running(worker), f"the orphaned worker (pid {worker}) to exit")
    assert not (marks / "finished").exists(), "the orphaned worker ran the call to completion after it was lost"


def test_a_result_and_a_lost_verdict_have_one_winner(tmp_path: Path) -> None:
    """Whichever of complete() and mark_lost() is written first stands; the other changes nothing."""
    store = SQLiteCallStore(tmp_path / "calls.sqlite3")
    lost = serialize_error(toolkit.CallLostError("lost"))

    first = new_call_id()
    store.create(first, "a", "f", owner="local:h:1:1")
    assert store.mark_lost(first, "local:h:1:1", lost)
    assert not store.complete(first, CallStatus.DONE, serialize(42))  # a result after "lost" is refused
    record = store.get(first)
    assert record is not None and (record.status, record.result) == (CallStatus.FAILED, lost)

    second = new_call_id()
    store.create(second, "a", "f", owner="local:h:1:1")
    assert store.complete(second, CallStatus.DONE, serialize(42))
    assert not store.mark_lost(second, "local:h:1:1", lost)  # a call that finished is never called lost
    record = store.get(second)
    assert record is not None and (record.status, record.result) == (CallStatus.DONE, serialize(42))

    third = new_call_id()
    store.create(third, "a", "f", owner="local:h:2:2")
    assert not store.mark_lost(third, "local:h:1:1", lost)  # a verdict about another owner does not land


def test_an_owner_is_judged_by_host_pid_start_time_and_state() -> None:
    import socket

    from toolkit.local.ownership import owner_alive, owner_token

    me = owner_token()
    assert owner_alive(me)
    host, pid, started = me.split(":", 3)[1:]
    assert not owner_alive(f"local:{host}:{pid}:{started}0")  # same pid, another start: a reused pid
    assert owner_alive(f"local:not-{socket.gethostname()}:{pid}:x")  # another machine's: not ours to judge
    assert owner_alive(None) and owner_alive("ecs:task/123")
    child = subprocess.Popen(["true"])
    token = owner_token(child.pid)
    try:
        wait_until(lambda: not running(child.pid), "the child to exit (a zombie until reaped)")
        assert Path(f"/proc/{child.pid}").exists()  # exited, not reaped: os.kill(pid, 0) still succeeds
        assert not owner_alive(token)
    finally:
        child.wait(timeout=10)
    assert not owner_alive(token)


NESTED_APP = '''
import os
import time

import toolkit

app = toolkit.App("nested")


@app.function(timeout=600)
def child(seconds: float) -> str:
    time.sleep(seconds)
    return "child done"


@app.function(scaledown_window=1)
def parent(seconds: float) -> tuple:
    return child.spawn(seconds).object_id, os.getpid()
'''


def test_an_idle_worker_that_owns_spawned_calls_is_not_scaled_down(tmp_path: Path) -> None:
    """A function that spawns and returns the call id: its worker owns the call, so scaling the
    worker down (1 s window here) must wait for the call instead of losing it."""
    from toolkit.loader import load_app

    (tmp_path / "nested.py").write_text(NESTED_APP)
    app = load_app(str(tmp_path / "nested.py"))
    # 4 s: twice what a wrong scale-down needs (the 1 s window, then the runner's once-a-second reap)
    call_id, worker = app.registered_functions["parent"].remote(4.0)
    assert toolkit.FunctionCall.from_id(call_id).get(timeout=60) == "child done"
    wait_until(lambda: not running(worker), f"the idle worker (pid {worker}) to scale down once its call is done")

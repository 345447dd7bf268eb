"""A request detached past its budget (303) when `toolkit serve` dies by kill -9: the call is
lost, clearly, and its work stops.

The call records serve as its owner, so after a restart the result URL answers 5xx naming the
lost call (not 303 "Still running" forever) and ``FunctionCall.from_id(id).get()`` raises
`CallLostError` (not ``TimeoutError`` forever); the web worker that ran the request stops with
serve instead of finishing work that was reported lost.  Real serve processes, real kill -9.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from serve.serving import Served, free_port, served, wait_for

import toolkit

pytestmark = pytest.mark.timeout(180)

BUDGET_S = 1.0
WORK_S = 4.0  # the work writes its "finished" mark after this long
MARKED_WORK = """
def work(seconds):
    open(os.path.join(os.environ["OWNERSHIP_MARKS"], f"started-{os.getpid()}"), "w").close()
    time.sleep(seconds)
    open(os.path.join(os.environ["OWNERSHIP_MARKS"], "finished"), "w").close()
"""

# A fastapi_endpoint: the request runs in the web worker process itself.
ENDPOINT_APP = """
import os
import time

import toolkit

app = toolkit.App("ownership")
""" + MARKED_WORK + """

@app.function(timeout=600)
@toolkit.fastapi_endpoint()
def slow(seconds: float) -> dict:
    work(seconds)
    return {"done": True}
"""

# A web_server whose server is a uvicorn *subprocess* (a common way to run one): on SIGTERM it
# finishes in-flight requests, so only stopping the worker's whole session at once stops the work.
SERVER_APP = """
import asyncio
import os
import subprocess
import sys
import time

import toolkit

app = toolkit.App("ownership")
PORT = int(os.environ["OWNERSHIP_PORT"])
""" + MARKED_WORK + """

async def web(scope, receive, send):
    if scope["type"] != "http":
        return
    seconds = float(scope["query_string"].decode().partition("seconds=")[2] or 0)
    await asyncio.to_thread(work, seconds)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})


@app.function(timeout=600)
@toolkit.web_server(PORT, startup_timeout=30)
def slow():
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.Popen([sys.executable, "-m", "uvicorn", "ownership:web", "--host", "127.0.0.1", "--port", str(PORT),
                      "--lifespan", "off", "--log-level", "warning"], cwd=here)
"""
LABEL = "ownership-slow"


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def started_pids(marks: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in marks.glob("started-*")]


@pytest.mark.parametrize("source", [ENDPOINT_APP, SERVER_APP], ids=["fastapi_endpoint", "web_server-subprocess"])
def test_kill_9_of_serve_after_a_303_loses_the_call_and_stops_the_work(tmp_path: Path, source: str) -> None:
    app, marks = tmp_path / "ownership.py", tmp_path / "marks"
    app.write_text(source)
    marks.mkdir()
    env = {"OWNERSHIP_MARKS": str(marks), "OWNERSHIP_PORT": str(free_port())}

    first = Served(app, "--request-timeout", str(BUDGET_S), env=env)
    try:
        detached = first.client(LABEL).get("/", params={"seconds": WORK_S})
        assert detached.status_code == 303, detached.text
        location = detached.headers["location"]
        (call_id,) = parse_qs(urlsplit(location).query)["__toolkit_call_id"]
        wait_for(lambda: started_pids(marks), "the detached request to start in a worker", timeout=60)
        (worker,) = started_pids(marks)
    finally:
        first.proc.kill()  # SIGKILL: serve records nothing and stops nothing itself
        first.proc.wait(timeout=10)

    wait_for(lambda: not running(worker), f"the web worker (pid {worker}) to stop after serve died", timeout=30)
    assert not (marks / "finished").exists(), "the worker finished a request whose serve was killed"

    with served(app, "--request-timeout", str(BUDGET_S), env=env) as second:
        lost = second.client(LABEL).get(location)
    assert 500 <= lost.status_code < 600, (lost.status_code, lost.text)
    assert call_id in lost.text and "CallLostError" in lost.text and "send the request again" in lost.text
    with pytest.raises(toolkit.CallLostError, match=call_id):
        toolkit.FunctionCall.from_id(call_id).get(timeout=5)


SPAWNING_APP = """
import os
import time

import toolkit

app = toolkit.App("spawner")


@app.function(timeout=600)
def job(seconds: float) -> str:
    time.sleep(seconds)
    return "job done"


@app.function(scaledown_window=1)
@toolkit.fastapi_endpoint(method="POST")
def accept(item: dict) -> dict:
    return {"call_id": job.spawn(item["seconds"]).object_id, "worker": os.getpid()}
"""
JOB_S = 4.0  # twice what a wrong scale-down needs: the 1 s scaledown window, then the next 1 s reap (server.REAP_EVERY_S)


def test_a_web_worker_is_not_scaled_down_while_calls_it_spawned_run(tmp_path: Path) -> None:
    """Spawn and poll (a POST starts a job, later requests poll it): the web worker that spawned
    the job owns it, so scaling that worker down must wait for the job, not lose it."""
    app = tmp_path / "spawner.py"
    app.write_text(SPAWNING_APP)
    with served(app) as server:
        accepted = server.client("spawner-accept").post("/", json={"seconds": JOB_S})
        assert accepted.status_code == 200, accepted.text
        call_id, worker = accepted.json()["call_id"], accepted.json()["worker"]
        assert toolkit.FunctionCall.from_id(call_id).get(timeout=60) == "job done"
        # ...and once its calls are done, the idle worker does scale down.
        wait_for(lambda: not running(worker), f"the idle web worker (pid {worker}) to scale down", timeout=30)

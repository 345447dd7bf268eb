"""A newer `toolkit serve` of the same endpoints takes them over from an older one, with real serves.

Each test has its own TOOLKIT_HOME (so its own registry).  The app's workers mark their ASGI
lifespan startup and shutdown in a directory, and answer with their parent's pid: the serve
that runs them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve.serving import MARKED_APP, REPO, Served, free_port, toolkit_cli, wait_for

APP = """
import os
from pathlib import Path

import toolkit

app = toolkit.App("takeover")
MARKS = Path(os.environ["TAKEOVER_MARKS"])
MARK_SUFFIX = ""


async def before_start():
    pass


def answer(name):
    return {"name": name, "worker": os.getpid(), "serve": os.getppid()}

""" + MARKED_APP + '''

@app.function()
@toolkit.asgi_app()
def alpha():
    return marked("alpha")
'''

BETA = '''

@app.function()
@toolkit.asgi_app()
def beta():
    return marked("beta")
'''

ALPHA_HOST = "default--takeover-alpha-dev"
BETA_HOST = "default--takeover-beta-dev"


class ServedOn(Served):
    """A serve on a given port.  Ready when it says it serves: an older serve may answer on the port before."""

    def __init__(self, app: Path, port: int, env: dict[str, str]) -> None:  # noqa: super().__init__ picks a port
        self.port = port
        self.log = Path(tempfile.mkstemp(prefix="toolkit-serve-", suffix=".log")[1])
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "toolkit.cli", "serve", str(app), "--port", str(port), "--no-reload"],
                cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )

    def serving(self) -> bool:
        return "Serving app" in self.output()

    def get(self, host: str, path: str = "/") -> httpx.Response:
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", trust_env=False, timeout=30) as client:
            return client.get(path, headers={"Host": f"{host}.localhost:{self.port}"})


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], list[ServedOn]]]:
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {"TOOLKIT_HOME": str(tmp_path / "home"), "TAKEOVER_MARKS": str(marks)}
    (tmp_path / "both.py").write_text(APP + BETA)
    (tmp_path / "alpha_only.py").write_text(APP)
    started: list[ServedOn] = []
    yield tmp_path, env, started
    for server in started:
        server.stop()


def start(started: list[ServedOn], app: Path, port: int, env: dict[str, str]) -> ServedOn:
    server = ServedOn(app, port, env)
    started.append(server)
    return server


def marks(tmp_path: Path, kind: str, name: str) -> set[int]:
    return {int(p.name.rsplit("-", 1)[1]) for p in (tmp_path / "marks").glob(f"{kind}-{name}-*")}


def registry(tmp_path: Path) -> list[dict[str, object]]:
    serves: list[dict[str, object]] = json.loads((tmp_path / "home" / "serve" / "registry.json").read_text())["serves"]
    return serves


def test_same_port_newer_serve_takes_over_after_the_older_finishes_its_inflight_request(setup) -> None:  # type: ignore[no-untyped-def]
    tmp_path, env, started = setup
    port = free_port()
    older = start(started, tmp_path / "both.py", port, env)
    wait_for(older.serving, "the older serve")
    assert older.get(ALPHA_HOST).json()["serve"] == older.proc.pid

    inflight: dict[str, httpx.Response] = {}
    slow = threading.Thread(target=lambda: inflight.update(r=older.get(ALPHA_HOST, "/?sleep=3")))
    slow.start()
    wait_for(lambda: len(marks(tmp_path, "started", "alpha")) == 1, "the older worker")
    time.sleep(0.3)  # the slow request is in the worker now
    newer = start(started, tmp_path / "both.py", port, env)
    wait_for(newer.serving, "the newer serve")

    # the newer serve has the port and the labels while the older one is still finishing its request
    answer = newer.get(ALPHA_HOST).json()
    assert answer["serve"] == newer.proc.pid
    assert newer.get(BETA_HOST).json()["serve"] == newer.proc.pid
    slow.join(30)
    assert inflight["r"].status_code == 200 and inflight["r"].json()["serve"] == older.proc.pid

    assert older.proc.wait(30) == 0
    said = older.output()
    assert f"Endpoint alpha was taken over by a newer toolkit serve (pid {newer.proc.pid}); stopping." in said
    assert f"Endpoint beta was taken over by a newer toolkit serve (pid {newer.proc.pid}); stopping." in said
    assert "Traceback" not in said
    older_worker = (marks(tmp_path, "started", "alpha") - {answer["worker"]}).pop()
    assert older_worker in marks(tmp_path, "stopped", "alpha")  # its worker's ASGI lifespan shutdown ran
    assert "Taking over port" in newer.output() and newer.proc.poll() is None
    assert [s["pid"] for s in registry(tmp_path)] == [newer.proc.pid]


def test_different_ports_the_older_serve_redirects_taken_endpoints_and_keeps_the_rest(setup) -> None:  # type: ignore[no-untyped-def]
    tmp_path, env, started = setup
    older = start(started, tmp_path / "both.py", free_port(), env)
    wait_for(older.serving, "the older serve")
    assert older.get(ALPHA_HOST).status_code == 200  # a worker for alpha runs in the older serve
    newer = start(started, tmp_path / "alpha_only.py", free_port(), env)
    wait_for(newer.serving, "the newer serve")

    wait_for(lambda: older.get(ALPHA_HOST, "/x?y=1").status_code == 307, "the older serve to redirect")
    moved = older.get(ALPHA_HOST, "/x?y=1")
    assert moved.headers["location"] == f"http://{ALPHA_HOST}.localhost:{newer.port}/x?y=1"
    assert f"pid {newer.proc.pid}" in moved.text
    assert newer.get(ALPHA_HOST).json()["serve"] == newer.proc.pid
    assert older.get(BETA_HOST).json()["serve"] == older.proc.pid  # the label the newer one lacks stays
    listed = httpx.get(f"http://127.0.0.1:{older.port}/api/endpoints", trust_env=False).json()
    assert [e["label"] for e in listed] == ["takeover-beta"]
    assert f"moved to a newer toolkit serve (pid {newer.proc.pid})" in httpx.get(
        f"http://127.0.0.1:{older.port}/", trust_env=False).text
    assert f"Endpoint alpha was taken over by a newer toolkit serve (pid {newer.proc.pid})" in older.output()
    wait_for(lambda: len(marks(tmp_path, "stopped", "alpha")) == 1, "the older alpha worker to stop")
    assert older.proc.poll() is None

    newer.stop()  # gone: the older serve says so instead of redirecting to nothing
    gone = older.get(ALPHA_HOST)
    assert gone.status_code == 404 and "has stopped" in gone.text and "restart" in gone.text


def test_same_port_older_serve_with_other_endpoints_keeps_its_port(setup) -> None:  # type: ignore[no-untyped-def]
    tmp_path, env, started = setup
    port = free_port()
    older = start(started, tmp_path / "both.py", port, env)
    wait_for(older.serving, "the older serve")
    refused = toolkit_cli("serve", str(tmp_path / "alpha_only.py"), "--port", str(port), env=env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"Port {port} is held by toolkit serve (pid {older.proc.pid}), which also serves {BETA_HOST}" in refused.stderr
    assert older.get(ALPHA_HOST).json()["serve"] == older.proc.pid and older.proc.poll() is None


def test_port_held_by_another_program_keeps_the_plain_error(setup) -> None:  # type: ignore[no-untyped-def]
    tmp_path, env, _started = setup
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = toolkit_cli("serve", str(tmp_path / "both.py"), "--port", str(port), env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


def test_a_killed_serves_stale_entry_is_ignored(setup) -> None:  # type: ignore[no-untyped-def]
    tmp_path, env, started = setup
    port = free_port()
    killed = start(started, tmp_path / "both.py", port, env)
    wait_for(killed.serving, "the first serve")
    killed.proc.send_signal(signal.SIGKILL)
    killed.proc.wait()
    assert [s["pid"] for s in registry(tmp_path)] == [killed.proc.pid]  # it could not clean up

    # were the entry taken for a live serve, its beta label would make it refuse this port
    newer = start(started, tmp_path / "alpha_only.py", port, env)
    wait_for(newer.serving, "the new serve")
    assert newer.get(ALPHA_HOST).json()["serve"] == newer.proc.pid
    assert "Taking over" not in newer.output()
    assert [s["pid"] for s in registry(tmp_path)] == [newer.proc.pid]


def test_two_newer_serves_at_once_leave_exactly_one_serving(setup) -> None:  # type: ignore[no-untyped-def]
    tmp_path, env, started = setup
    port = free_port()
    older = start(started, tmp_path / "both.py", port, env)
    wait_for(older.serving, "the older serve")
    first, second = (start(started, tmp_path / "both.py", port, env) for _ in range(2))

    wait_for(lambda: older.proc.poll() is not None, "the older serve to stop")
    wait_for(lambda: [first.proc.poll(), second.proc.poll()].count(None) == 1, "one newer serve to stop")
    survivor, stopped = (first, second) if first.proc.poll() is None else (second, first)
    assert older.proc.returncode == 0 and stopped.proc.returncode == 0
    assert f"(pid {survivor.proc.pid})" in stopped.output() and "stopping." in stopped.output()
    wait_for(survivor.serving, "the surviving serve")
    assert survivor.get(ALPHA_HOST).json()["serve"] == survivor.proc.pid
    assert [s["pid"] for s in registry(tmp_path)] == [survivor.proc.pid]

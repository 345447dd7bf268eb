"""``min_containers``: serve starts that many workers per endpoint before any request, in the
background, keeps them through scale-down, and starts them again after a live reload.

The app's workers mark their ASGI lifespan startup and shutdown in a directory (pid in the
name); their startup waits for a gate file, so the test sees serve answer before they exist.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
from serve.serving import MARKED_APP, alive, free_port, served, wait_for

APP = """
import asyncio
import os
from pathlib import Path

import toolkit

app = toolkit.App("warm")
MARKS = Path(os.environ["WARM_MARKS"])
VERSION = 1
MARK_SUFFIX = f"-{VERSION}"


async def before_start():
    while not (MARKS / "gate").exists():
        await asyncio.sleep(0.05)


def answer(name):
    return {"worker": os.getpid(), "version": VERSION}

""" + MARKED_APP + '''

@app.function(min_containers=2, scaledown_window=1)
@toolkit.asgi_app()
def pool():
    return marked("pool")


@app.cls(min_containers=1)
class Defaults:
    greeting: str = toolkit.parameter(default="hi")

    @toolkit.asgi_app()
    def web(self):
        return marked("defaults")


@app.cls(min_containers=1)
class NoDefault:
    name: str = toolkit.parameter()

    @toolkit.asgi_app()
    def web(self):
        return marked("nodefault")
'''


class Marks:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def pids(self, kind: str, name: str, version: int | None = None) -> set[int]:
        pattern = f"{kind}-{name}-{'*' if version is None else version}-*"
        return {int(p.name.rsplit("-", 1)[1]) for p in self.directory.glob(pattern)}

    def running(self, name: str) -> set[int]:
        return self.pids("started", name) - self.pids("stopped", name)


def test_min_containers_prestart_scale_down_floor_and_reload(tmp_path: Path) -> None:
    marks = Marks(tmp_path / "marks")
    marks.directory.mkdir()
    app_file = tmp_path / "warm.py"
    app_file.write_text(APP)
    with served(app_file, env={"WARM_MARKS": str(marks.directory)}) as server:
        # serve answers while the workers are still starting: startup does not wait for them
        assert marks.pids("started", "pool") == set()
        assert "NoDefault.web: min_containers=1 is not prestarted" in server.output()

        (marks.directory / "gate").touch()
        wait_for(lambda: len(marks.running("pool")) == 2 and len(marks.running("defaults")) == 1, "prestart")
        warm = marks.running("pool")
        time.sleep(2.5)  # past scaledown_window (1 s) and a reap: the warm workers stay
        assert marks.running("pool") == warm and all(alive(pid) for pid in warm)
        assert marks.pids("started", "nodefault") == set()
        assert server.client("warm-pool").get("/").json()["worker"] in warm  # a request uses a warm worker
        assert marks.pids("started", "pool") == warm

        # four requests at once scale the pool to four workers; idle, it scales back to two, not zero
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", headers={"Host": server.host("warm-pool")},
                          trust_env=False, timeout=30) as client:
            threads = [threading.Thread(target=client.get, args=("/?sleep=1.5",)) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert len(marks.pids("started", "pool")) == 4
        wait_for(lambda: len(marks.pids("stopped", "pool")) == 2, "scale-down")
        time.sleep(2.5)
        kept = marks.running("pool")
        assert len(kept) == 2 and all(alive(pid) for pid in kept)

        # a live reload stops the old workers and prestarts the new version's, with no request
        app_file.write_text(APP.replace("VERSION = 1", "VERSION = 2"))
        wait_for(lambda: len(marks.pids("started", "pool", 2)) == 2 and len(marks.pids("started", "defaults", 2)) == 1,
                 "the reloaded version's workers")
        wait_for(lambda: marks.running("pool") == marks.pids("started", "pool", 2), "the old version's to stop")
        answer = server.client("warm-pool").get("/").json()
        assert answer["version"] == 2 and answer["worker"] in marks.pids("started", "pool", 2)
        assert len(marks.pids("started", "pool", 2)) == 2


BROKEN = '''
import toolkit

app = toolkit.App("warm-broken")


@app.function(min_containers=1)
@toolkit.asgi_app()
def broken():
    raise RuntimeError("no database at start")
'''


def test_a_prestart_failure_is_reported_like_a_request_time_one(tmp_path: Path) -> None:
    app_file = tmp_path / "broken.py"
    app_file.write_text(BROKEN)
    with served(app_file) as server:
        line = "broken: RuntimeError: no database at start"
        deadline = time.monotonic() + 40
        while line not in server.output():  # logged with no request made
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        response = server.client("warm-broken-broken").get("/")
        assert response.status_code == 500
        assert response.text == "broken could not start: RuntimeError: no database at start"


WEB_SERVER = '''
import os
import subprocess
import sys

import toolkit

app = toolkit.App("warm-server")
PORT = int(os.environ["WARM_PORT"])


@app.function(min_containers=3)
@toolkit.web_server(PORT, startup_timeout=20)
def files():
    subprocess.Popen([sys.executable, "-m", "http.server", str(PORT), "--bind", "127.0.0.1"])
'''


def test_web_server_min_containers_is_one_worker_started_before_any_request(tmp_path: Path) -> None:
    app_file = tmp_path / "warm_server.py"
    app_file.write_text(WEB_SERVER)
    port = free_port()
    with served(app_file, env={"WARM_PORT": str(port)}) as server:
        assert "files: min_containers=3 runs as one worker locally" in server.output()

        def listening() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, "the prestarted web_server")
        assert server.client("warm-server-files").get("/").status_code == 200
        assert "exited" not in server.output() and "could not start" not in server.output()

"""A broken edit under `toolkit serve`: every endpoint keeps answering with the last version that
loaded, including endpoints whose workers start only after the edit (cold ones) and the function
workers a call starts, and the message says so; a fixed edit is served from then on."""

from __future__ import annotations

import time
from pathlib import Path

from cli_helpers import Serve

HELPERS = '''
VERSION = "v1"
'''

APP = '''
import toolkit
import helpers

app = toolkit.App("pair")


@app.function()
def job():
    return "job " + helpers.VERSION


@app.function()
@toolkit.fastapi_endpoint()
def warm():
    return "warm " + helpers.VERSION


@app.function()
@toolkit.fastapi_endpoint()
def cold():
    return "cold " + helpers.VERSION


@app.function()
@toolkit.fastapi_endpoint()
def calls():
    return job.remote()
'''


def _wait_for_output(serve: Serve, text: str, after: int = 0, timeout: float = 30) -> str:
    """The serve's output once ``text`` appears in it past offset ``after``."""
    deadline = time.monotonic() + timeout
    while text not in serve.output()[after:]:
        assert time.monotonic() < deadline, serve.output()
        time.sleep(0.05)
    return serve.output()


def _wait_for_answer(serve: Serve, label: str, expected: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (response := serve.get(label)).status_code != 200 or response.json() != expected:
        assert time.monotonic() < deadline, (response.status_code, response.text, serve.output())
        time.sleep(0.1)


def test_after_a_broken_edit_cold_endpoints_and_function_workers_serve_the_last_version(tmp_path: Path) -> None:
    app, helpers = tmp_path / "pair.py", tmp_path / "helpers.py"
    app.write_text(APP)
    helpers.write_text(HELPERS)
    serve = Serve(app, tmp_path / "serve.log", cwd=tmp_path)
    try:
        serve.wait_ready()
        assert serve.get("pair-warm").json() == "warm v1"  # its worker is running now; cold and calls are not

        mark = len(serve.output())
        app.write_text(APP.replace("import helpers", "import helpers\ndef broken(:"))  # a syntax error
        output = _wait_for_output(serve, "Reload failed", mark)
        assert "Still serving the last version that loaded (loaded at " in output[mark:], output
        assert "on every endpoint: running workers keep it and new ones start from it, until the files load " \
               "again." in output[mark:], output
        assert serve.get("pair-warm").json() == "warm v1"  # its running worker
        assert serve.get("pair-cold").json() == "cold v1"  # a worker started after the broken edit
        assert serve.get("pair-calls").json() == "job v1"  # and the function worker its call started

        app.write_text(APP)  # fixed, with a new version of the module it imports
        helpers.write_text(HELPERS.replace("v1", "v2"))
        _wait_for_answer(serve, "pair-warm", "warm v2")

        mark = len(serve.output())
        helpers.write_text("raise ImportError('helpers is half edited')\n")  # the imported module breaks
        _wait_for_output(serve, "Reload failed", mark)
        assert serve.get("pair-cold").json() == "cold v2"  # cold again since the last reload: starts from v2
        assert serve.get("pair-calls").json() == "job v2"
    finally:
        serve.stop()


SCALING = '''
import time
import toolkit

app = toolkit.App("scaling")

VERSION = "v1"


@app.function(max_containers=2)
@toolkit.fastapi_endpoint()
def slow(sleep: float = 0):
    time.sleep(sleep)
    return VERSION
'''


def test_after_a_broken_edit_a_worker_started_for_load_serves_the_last_version(tmp_path: Path) -> None:
    import concurrent.futures

    import httpx

    app = tmp_path / "scaling.py"
    app.write_text(SCALING)
    serve = Serve(app, tmp_path / "serve.log", cwd=tmp_path)
    try:
        serve.wait_ready()
        assert serve.get("scaling-slow").json() == "v1"  # one worker, running
        mark = len(serve.output())
        app.write_text(SCALING.replace('VERSION = "v1"', 'VERSION = "v2" +'))  # a syntax error
        _wait_for_output(serve, "Reload failed", mark)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:  # one input per worker: the second needs another
            answers = list(pool.map(lambda _: serve.get("scaling-slow", "/?sleep=1.5"), range(2)))
        assert [a.json() for a in answers] == ["v1", "v1"], [a.text for a in answers]
        pools = httpx.get(f"http://127.0.0.1:{serve.port}/api/dashboard", timeout=10, trust_env=False).json()["pools"]
        assert [p["workers"] for p in pools if p["function"] == "slow"] == [2], pools  # it did scale up
    finally:
        serve.stop()

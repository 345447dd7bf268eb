"""A broken edit under `toolkit serve`: the message says which endpoints still answer with the last
version that loaded (those with a running worker) and which do not, and the endpoints behave so."""

from __future__ import annotations

import time
from pathlib import Path

from cli_helpers import Serve

APP = '''
import toolkit

app = toolkit.App("pair")


@app.function()
@toolkit.fastapi_endpoint()
def warm():
    return "warm v1"


@app.function()
@toolkit.fastapi_endpoint()
def cold():
    return "cold v1"
'''


def test_failed_reload_says_which_endpoints_keep_the_last_version(tmp_path: Path) -> None:
    app = tmp_path / "pair.py"
    app.write_text(APP)
    serve = Serve(app, tmp_path / "serve.log", cwd=tmp_path)
    try:
        serve.wait_ready()
        assert serve.get("pair-warm").json() == "warm v1"  # its worker is running now
        app.write_text(APP + "\ndef broken(:\n")
        deadline = time.monotonic() + 30
        while "Reload failed" not in serve.output():
            assert time.monotonic() < deadline, serve.output()
            time.sleep(0.05)
        while "Not serving the last version" not in serve.output():
            assert time.monotonic() < deadline, serve.output()
            time.sleep(0.05)
        output = serve.output()
        assert "Still serving the last version that loaded: warm (its running workers, until they scale down)." \
            in output, output
        assert "Not serving the last version: cold (no running worker; a new one loads the files as they are now " \
               "and fails until they are fixed)." in output, output
        assert serve.get("pair-warm").json() == "warm v1"  # as said: the running worker answers
        assert serve.get("pair-cold").status_code == 500  # as said: a new worker meets the broken file
    finally:
        serve.stop()

"""What `toolkit serve` prints: an access log line per request, each worker line led by its function's
name; --quiet drops the access log, --json-logs prints both as JSON lines."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from cli_helpers import Serve

APP = '''
import sys

import toolkit

app = toolkit.App("talky")


@app.function()
@toolkit.fastapi_endpoint()
def greet(name: str = "world"):
    print(f"greeting {name}")
    print(f"warning about {name}", file=sys.stderr)
    return f"hi {name}"
'''

ACCESS = re.compile(r"^\d\d:\d\d:\d\d greet GET /\?name=ada 200 \d+ ms$", re.MULTILINE)


def serve_and_greet(tmp_path: Path, *flags: str) -> str:
    app = tmp_path / "talky.py"
    app.write_text(APP)
    serve = Serve(app, tmp_path / "serve.log", cwd=tmp_path, extra=flags)
    try:
        serve.wait_ready()
        assert serve.get("talky-greet", "/?name=ada").json() == "hi ada"
        deadline = time.monotonic() + 20
        while "warning about ada" not in serve.output() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        serve.stop()
    return serve.output()


def test_access_log_and_prefixed_output(tmp_path: Path) -> None:
    output = serve_and_greet(tmp_path)
    assert ACCESS.search(output), output
    assert "[greet] greeting ada\n" in output and "[greet] warning about ada\n" in output, output


def test_quiet_drops_the_access_log_but_not_the_output(tmp_path: Path) -> None:
    output = serve_and_greet(tmp_path, "--quiet")
    assert not ACCESS.search(output), output
    assert "[greet] greeting ada" in output, output


def test_json_logs(tmp_path: Path) -> None:
    output = serve_and_greet(tmp_path, "--json-logs")
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    request = next(r for r in records if r["event"] == "request")
    assert (request["function"], request["method"], request["path"], request["status"]) == ("greet", "GET",
                                                                                              "/?name=ada", 200)
    assert request["duration_ms"] >= 0 and request["client"].startswith("127.0.0.1:")
    lines = {r["line"] for r in records if r["event"] == "output" and r["function"] == "greet"}
    assert {"greeting ada", "warning about ada"} <= lines, output

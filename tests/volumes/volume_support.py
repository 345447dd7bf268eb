"""Shared by the volume tests (a module of its own: a test importing `conftest` would find another
directory's conftest when the suite runs together)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from loopback import free_port

REPO = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"


def toolkit_run(*args: str, timeout: float = 90) -> str:
    """``toolkit run ...`` in a fresh process (its own runner and worker pools); its stdout."""
    proc = subprocess.run([sys.executable, "-m", "toolkit.cli.__main__", "run", *args], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@contextmanager
def serving(app_file: Path, env: Mapping[str, str]) -> Iterator[tuple[int, str]]:
    """``toolkit serve app_file`` with exactly ``env`` on a free port, terminated on leaving; its port and the
    Host of its first endpoint (read from ``/api/endpoints`` once it answers)."""
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "toolkit.cli.__main__", "serve", str(app_file), "--port", str(port)],
                             cwd=REPO, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield port, _first_endpoint_host(serve, port)
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def _first_endpoint_host(serve: subprocess.Popen[bytes], port: int) -> str:
    deadline, endpoints = time.monotonic() + 60, None
    while endpoints is None:
        assert time.monotonic() < deadline and serve.poll() is None, "serve did not come up"
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/endpoints")
            endpoints = json.loads(conn.getresponse().read())
        except OSError:
            time.sleep(0.3)
    host: str = endpoints[0]["url"].split("//", 1)[1]
    return host


def get(port: int, host: str, path: str, timeout: float = 60) -> tuple[int, bytes]:
    """``GET path`` from the serve on ``port``, addressed to the endpoint ``host``: the status and the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("GET", path, headers={"Host": host})
    response = conn.getresponse()
    return response.status, response.read()

"""`toolkit serve --containers` killed by kill -9: its containers go with it.

A container outlives the ``podman run -d`` that started it, so without its lifeline
(`toolkit.serve.lifeline`) it would go on running a request detached past the budget, a request
that is now reported lost and may be sent again.  Real serve, real podman, real kill -9.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from image_tools import run
from loopback import free_port

import toolkit

IMAGE_PREFIX = "localhost/toolkit/serve-containers-ownership:"
APP = '''"""A slow endpoint in a container."""

import time

import toolkit

app = toolkit.App("serve-containers-ownership", image=toolkit.Image.debian_slim("3.11"))


@app.function(timeout=600)
@toolkit.fastapi_endpoint()
def slow(seconds: float = 0):
    time.sleep(seconds)
    return {"done": True}
'''


def containers(env: dict[str, str], *flags: str) -> list[str]:
    done = run(["podman", "ps", "--no-trunc", *flags, "--format", "{{.ID}} {{.Image}}"], env=env)
    assert done.returncode == 0, done.stderr
    return [line.split()[0] for line in done.stdout.splitlines() if IMAGE_PREFIX in line]


def wait_until(predicate: Callable[[], object], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def lifelines(serve_pid: int) -> list[int]:
    """Pids of the ``python -m toolkit.serve.lifeline SERVE_PID ...`` processes of one serve."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if b"toolkit.serve.lifeline" in args and args[args.index(b"toolkit.serve.lifeline") + 1] == b"%d" % serve_pid:
            found.append(int(entry.name))
    return found


def endpoint_host(base: str, proc: subprocess.Popen[bytes], timeout: float = 600.0) -> str:
    """The Host of the app's endpoint, once serve (which builds the image first) lists it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            reply = httpx.get(base + "/api/endpoints", timeout=2.0)
            if reply.status_code == 200:
                return str(reply.json()[0]["url"]).split("://", 1)[1]
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("toolkit serve --containers never served its index")


@pytest.mark.slow
def test_kill_9_of_serve_containers_removes_its_containers_and_the_call_is_lost(
        base_image: str, podman_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "slowapp.py").write_text(APP)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "toolkit.cli", "serve", "--containers", "--builder", "podman",
                             "--no-reload", "--request-timeout", "1", "--port", str(port), "slowapp.py"],
                            cwd=tmp_path, env=podman_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        host = endpoint_host(base, proc)
        detached = httpx.get(base + "/", params={"seconds": 120}, headers={"host": host}, timeout=180)
        assert detached.status_code == 303, detached.text
        (call_id,) = parse_qs(urlsplit(detached.headers["location"]).query)["__toolkit_call_id"]
        wait_until(lambda: lifelines(proc.pid), "the endpoint's container and its lifeline to start", timeout=180)
        watchers = lifelines(proc.pid)
        assert containers(podman_env)
    finally:
        proc.kill()  # SIGKILL: serve stops no container itself
        proc.wait(timeout=30)
    try:
        wait_until(lambda: not containers(podman_env, "-a"), "serve's containers to be removed", timeout=60)
        wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in watchers), "the lifelines to exit",
                   timeout=30)
        with pytest.raises(toolkit.CallLostError, match=call_id):
            toolkit.FunctionCall.from_id(call_id).get(timeout=5)
    finally:
        for cid in containers(podman_env, "-a"):
            run(["podman", "rm", "--force", "--time", "0", cid], env=podman_env)

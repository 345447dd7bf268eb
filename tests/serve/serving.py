"""A real `toolkit serve` subprocess on a free loopback port, and clients that address its endpoints by Host."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from loopback import free_port
from pids import alive
from websockets.asyncio.client import ClientConnection, connect

REPO = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
START_TIMEOUT_S = 30


def toolkit_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})}, timeout=60)


class Served:
    """One running ``toolkit serve``; its output goes to a file the tests can read."""

    def __init__(self, app: str | Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="toolkit-serve-", suffix=".log")[1])
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "toolkit.cli", "serve", str(app), "--port", str(self.port), *args],
                cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"toolkit serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/api/endpoints", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"toolkit serve did not start:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def host(self, label: str) -> str:
        workspace = os.environ.get("TOOLKIT_WORKSPACE", "default")
        return f"{workspace}--{label}-dev.localhost:{self.port}"

    def client(self, label: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Host": self.host(label)} if label else {}
        headers.update(kwargs.pop("headers", {}))
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=headers,
                            timeout=kwargs.pop("timeout", 30), trust_env=False, **kwargs)

    def async_client(self, label: str, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", headers={"Host": self.host(label)},
                                 timeout=30, trust_env=False, **kwargs)

    def websocket(self, label: str, path: str, **kwargs: Any) -> connect:
        """A real WebSocket client; the TCP connection goes to 127.0.0.1, the Host names the endpoint."""
        sock = socket.create_connection(("127.0.0.1", self.port))
        return connect(f"ws://{self.host(label)}{path}", sock=sock, proxy=None, **kwargs)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.output()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# Source text for test apps (written to a file and served): ``marked(name)`` builds a FastAPI app
# whose ASGI lifespan startup and shutdown touch ``started-<name><MARK_SUFFIX>-<pid>`` and
# ``stopped-...`` in the directory ``MARKS``, and whose ``GET /?sleep=s`` answers ``answer(name)``
# after sleeping.  The app defines ``MARKS``, ``MARK_SUFFIX``, ``answer(name)`` and
# ``async before_start()`` (run before the startup mark).
MARKED_APP = '''
import asyncio
import contextlib
import os

from fastapi import FastAPI


def marked(name):
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        await before_start()
        (MARKS / f"started-{name}{MARK_SUFFIX}-{os.getpid()}").touch()
        yield
        (MARKS / f"stopped-{name}{MARK_SUFFIX}-{os.getpid()}").touch()

    web = FastAPI(lifespan=lifespan)

    @web.get("/")
    async def root(sleep: float = 0):
        await asyncio.sleep(sleep)
        return answer(name)

    return web
'''


@contextmanager
def served(app: str | Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    server = Served(app, *args, env=env)
    try:
        yield server
    finally:
        server.stop()


__all__ = ["APPS", "MARKED_APP", "REPO", "ClientConnection", "Served", "alive", "free_port", "served", "toolkit_cli",
           "wait_for"]

"""Shared by the CLI tests: the real ``toolkit`` CLI in a subprocess, and a real ``toolkit serve``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from loopback import free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
START_TIMEOUT_S = 60


def toolkit_cli(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


class Serve:
    """A ``toolkit serve`` subprocess whose output goes to ``log``."""

    def __init__(self, app: Path, log: Path, *, cwd: Path = REPO, env: dict[str, str] | None = None,
                 extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "toolkit.cli", "serve", str(app), "--port", str(self.port), *extra],
                cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"toolkit serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/api/endpoints", timeout=1, trust_env=False).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"toolkit serve did not start in {START_TIMEOUT_S} s:\n{self.output()}")

    def get(self, label: str, path: str = "/", timeout: float = 60) -> httpx.Response:
        host = f"{os.environ.get('TOOLKIT_WORKSPACE', 'default')}--{label}-dev.localhost:{self.port}"
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", headers={"Host": host}, timeout=timeout,
                         trust_env=False, follow_redirects=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextmanager
def serving(app: Path, log: Path, **kwargs: object) -> Iterator[Serve]:
    serve = Serve(app, log, **kwargs)  # type: ignore[arg-type]
    try:
        serve.wait_ready()
        yield serve
    finally:
        serve.stop()

"""Running the north-star programs as their users would: the real CLI in a subprocess.

Each program under ``programs/`` imports ``toolkit as modal``, the one line a user of the hosted
platform changes.  These helpers run ``toolkit run`` / ``toolkit plan`` on them and start one
``toolkit serve`` whose endpoints are addressed by the ``Host`` the serve prints.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from loopback import free_port

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"
RUN_TIMEOUT_S = 120
START_TIMEOUT_S = 60




def toolkit(*args: str, env: dict[str, str] | None = None, timeout: float = RUN_TIMEOUT_S) -> str:
    """Run ``toolkit ARGS`` to completion and return its stdout and stderr; fail with both if it fails."""
    done = subprocess.run([sys.executable, "-m", "toolkit.cli", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"toolkit {' '.join(args)} exited {done.returncode}:\n{output}"
    return output


def run_program(name: str, *args: str, env: dict[str, str] | None = None) -> list[str]:
    """The lines ``toolkit run programs/NAME.py ARGS`` printed."""
    return toolkit("run", str(PROGRAMS / f"{name}.py"), *args, env=env).splitlines()


def run_script(name: str, env: dict[str, str] | None = None) -> list[str]:
    """The lines ``python programs/NAME.py`` printed: a program that runs its app with ``app.run()``."""
    done = subprocess.run([sys.executable, str(PROGRAMS / f"{name}.py")], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, timeout=RUN_TIMEOUT_S)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"python {name}.py exited {done.returncode}:\n{output}"
    return output.splitlines()


def plan_program(name: str) -> dict[str, Any]:
    """``toolkit plan --json`` of a program, offline, for one region."""
    out = subprocess.run([sys.executable, "-m", "toolkit.cli", "plan", str(PROGRAMS / f"{name}.py"), "--json",
                          "--region", "us-east-1"], cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert out.returncode == 0, f"toolkit plan {name} exited {out.returncode}:\n{out.stderr}"
    plan: dict[str, Any] = json.loads(out.stdout)
    return plan


def line_after(lines: list[str], prefix: str) -> str:
    """The rest of the one line that starts with ``prefix`` (a program prints ``name: value`` lines)."""
    found = [line[len(prefix):].strip() for line in lines if line.startswith(prefix)]
    assert len(found) == 1, f"expected one line starting {prefix!r}, got {found} in:\n" + "\n".join(lines)
    return found[0]


class ServedProgram:
    """One ``toolkit serve programs/NAME.py`` on a free loopback port, stopped with SIGINT."""

    def __init__(self, name: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix=f"northstar-{name}-", suffix=".log")[1])
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "toolkit.cli", "serve", str(PROGRAMS / f"{name}.py"), "--port", str(self.port),
                 "--no-reload", "--no-schedules"],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        self.urls = self._wait_for_endpoints()

    def _wait_for_endpoints(self) -> dict[str, str]:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"toolkit serve exited {self.proc.returncode}:\n{self.output()}"
            try:
                listed = httpx.get(f"http://127.0.0.1:{self.port}/api/endpoints", timeout=2, trust_env=False)
                return {e["function"]: e["url"] for e in listed.json()}
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"toolkit serve did not list its endpoints within {START_TIMEOUT_S} s:\n{self.output()}")

    def client(self, function: str, **kwargs: Any) -> httpx.Client:
        """A client for one endpoint: the TCP connection goes to 127.0.0.1, the Host is the printed URL's."""
        host = httpx.URL(self.urls[function]).netloc.decode()
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers={"Host": host}, timeout=60,
                            trust_env=False, **kwargs)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> str:
        """Stop the serve as Ctrl-C does; returns everything it printed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        output = self.output() if self.log.exists() else ""
        self.log.unlink(missing_ok=True)
        return output

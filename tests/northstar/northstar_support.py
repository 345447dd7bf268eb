"""Running the north-star programs as their users would: the real CLI in a subprocess.

Each program under ``programs/`` imports ``toolkit as modal``, the one line a user of the hosted
platform changes.  These helpers run ``toolkit run`` / ``toolkit plan`` on them and start one
``toolkit serve`` whose endpoints are addressed by the ``Host`` the serve prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from loopback import free_port
from serve.serving import Served

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"
RUN_TIMEOUT_S = 120


def program_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a program, less the platform's container variables: in-process
    runtime tests set them here (a deployed container's start), and a driving process has none."""
    own = {k: v for k, v in os.environ.items() if not k.startswith("MODAL_")}
    return {**own, "PYTHONUNBUFFERED": "1", **(extra or {})}


def toolkit(*args: str, env: dict[str, str] | None = None, timeout: float = RUN_TIMEOUT_S) -> str:
    """Run ``toolkit ARGS`` to completion and return its stdout and stderr; fail with both if it fails."""
    done = subprocess.run([sys.executable, "-m", "toolkit.cli", *args], cwd=REPO, capture_output=True, text=True,
                          env=program_env(env), timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"toolkit {' '.join(args)} exited {done.returncode}:\n{output}"
    return output


def run_program(name: str, *args: str, env: dict[str, str] | None = None) -> list[str]:
    """The lines ``toolkit run programs/NAME.py ARGS`` printed."""
    return toolkit("run", str(PROGRAMS / f"{name}.py"), *args, env=env).splitlines()


def run_script(name: str, env: dict[str, str] | None = None) -> list[str]:
    """The lines ``python programs/NAME.py`` printed: a program that runs its app with ``app.run()``."""
    done = subprocess.run([sys.executable, str(PROGRAMS / f"{name}.py")], cwd=REPO, capture_output=True, text=True,
                          env=program_env(env), timeout=RUN_TIMEOUT_S)
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
    """One ``toolkit serve programs/NAME.py`` (tests/serve/serving.py's ``Served``, without reload or schedules)
    and the URL of each endpoint it lists, by function."""

    def __init__(self, name: str, env: dict[str, str] | None = None) -> None:
        self.served = Served(PROGRAMS / f"{name}.py", "--no-reload", "--no-schedules", env=env)
        listed = httpx.get(f"http://127.0.0.1:{self.served.port}/api/endpoints", timeout=10, trust_env=False)
        self.urls: dict[str, str] = {e["function"]: e["url"] for e in listed.json()}

    def client(self, function: str, **kwargs: Any) -> httpx.Client:
        """A client for one endpoint: the TCP connection goes to 127.0.0.1, the Host is the printed URL's."""
        host = httpx.URL(self.urls[function]).netloc.decode()
        return httpx.Client(base_url=f"http://127.0.0.1:{self.served.port}", headers={"Host": host}, timeout=60,
                            trust_env=False, **kwargs)

    def stop(self) -> str:
        """Stop the serve as Ctrl-C does; returns everything it printed (its log file is removed)."""
        output = self.served.stop() if self.served.log.exists() else ""
        self.served.log.unlink(missing_ok=True)
        return output


# free_port's home is tests/loopback.py; it stays importable from here for the tests that take it from this module.
__all__ = ["PROGRAMS", "REPO", "ServedProgram", "free_port", "line_after", "plan_program", "run_program", "run_script",
           "toolkit"]

"""An ephemeral run of an app: its web endpoints are served for as long as the run lasts.

``toolkit run app.py`` and ``with app.run():`` start a ``toolkit serve`` of the app's source on a
free loopback port (a subprocess: the same gateway, routing and workers as a standalone serve)
when the app has web endpoints, wait until it answers, and stop it when the run ends.  Meanwhile
``TOOLKIT_SERVE_ORIGIN`` points ``fn.get_web_url()`` at it (for this process and the workers it
starts), and ``*.localhost`` names resolve here (`toolkit.localhost`), so the run can call its own
endpoints.  A serve already running for this process (the variable set) is reused: importing the
app inside that serve does not start another one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.exception import Error
from toolkit.localhost import resolve_localhost_names

if TYPE_CHECKING:
    from toolkit.app import App

ORIGIN_ENV = "TOOLKIT_SERVE_ORIGIN"
START_TIMEOUT_S = 60.0
_output = {"enabled": False}


@contextlib.contextmanager
def enable_output(show_progress: bool = True) -> Iterator[None]:
    """Print what an ephemeral run serves (each endpoint's URL) while the block runs."""
    before, _output["enabled"] = _output["enabled"], bool(show_progress)
    try:
        yield
    finally:
        _output["enabled"] = before


def output_enabled() -> bool:
    return _output["enabled"]


def _source_of(app: App) -> str | None:
    files = {f.spec.source_file for f in app.registered_functions.values() if f.spec.source_file}
    return next(iter(files), None)


def _has_web_endpoints(app: App) -> bool:
    return any(f.spec.web is not None for f in app.registered_functions.values())


@contextlib.contextmanager
def serving(app: App, show: Callable[[str], None] | None = None) -> Iterator[str | None]:
    """Serve ``app``'s web endpoints for the block; yields the origin (None: nothing to serve)."""
    resolve_localhost_names()
    source = _source_of(app)
    if os.environ.get(ORIGIN_ENV) or not _has_web_endpoints(app) or source is None:
        yield os.environ.get(ORIGIN_ENV)
        return
    show = show or (print if output_enabled() else None)
    with contextlib.ExitStack() as stack:
        try:
            origin: str | None = stack.enter_context(_serve(source, app.app_name, show))
        except Error as exc:  # the run itself can go on: only calls to its own URLs would fail
            if show is not None:
                show(f"the web endpoints are not served for this run: {exc}")
            origin = None
        yield origin


@contextlib.contextmanager
def _serve(source: str, app_name: str, show: Callable[[str], None] | None) -> Iterator[str]:
    port = _free_port()
    origin = f"http://localhost:{port}"
    log = Path(tempfile.mkstemp(prefix="toolkit-run-serve-", suffix=".log")[1])
    env = {**os.environ, ORIGIN_ENV: origin, "PYTHONUNBUFFERED": "1"}  # the app imported there serves nothing more
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "toolkit.cli", "serve", source, "--port", str(port),
                                 "--no-reload", "--no-schedules"], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_ready(proc, port, log, app_name)
        os.environ[ORIGIN_ENV] = origin
        if show is not None:
            for line in log.read_text(errors="replace").splitlines():
                if "=>" in line:  # serve's "✓ label => URL" lines
                    show(line.strip())
        yield origin
    finally:
        os.environ.pop(ORIGIN_ENV, None)
        _stop(proc)
        log.unlink(missing_ok=True)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, app_name: str) -> None:
    import urllib.request  # here: `import toolkit` stays light

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Error(f"Could not serve the web endpoints of {app_name!r} for this run (toolkit serve exited "
                        f"with {proc.returncode}):\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/endpoints", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    _stop(proc)
    raise Error(f"The web endpoints of {app_name!r} were not served within {START_TIMEOUT_S:g} s:\n"
                f"{log.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # serve's Ctrl-C: it stops its workers and leaves the registry
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port

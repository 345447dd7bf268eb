"""A ``@web_server`` method's instance in a process of its own, so it can be stopped.

Every instance of a ``web_server`` method listens on the same port, so an environment runs
one at a time (an exclusive `runtime.instances.InstanceCache`) and must stop the current one
before the next parameter set can have the port.  The user's function starts its server
however it likes (a subprocess, a thread) and returns; only a process boundary makes that
stoppable.  So each instance lives in ``python -m runtime.entrypoints.server_host PARAMS``, a
new session: it builds the object (parameters, ``@enter``), calls the method, waits for the
port, and reports on a pipe; stopping it signals the whole process group, which takes the
user's server with it (toolkit serve's web workers do the same, one per parameter set).

The host reads the manifest from the same environment variables as every entrypoint.  It
stops when signalled or when its stdin closes (the environment's server went away).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from runtime import params as codec
from runtime.adapters.base import WebSpec
from runtime.adapters.web_server import LOCAL_HOST, WebServerStartupError
from runtime.params import Params

REPORT_FD_ENV = "TOOLKIT_HOST_REPORT_FD"
STOP_GRACE_S = 5.0  # SIGTERM, then SIGKILL: what a container runtime gives a stopping task
PORT_RELEASE_S = 10.0


def encode_params(params: Params) -> str:
    return json.dumps(codec.to_json(params))


def decode_params(text: str) -> Params:
    return codec.from_json(json.loads(text))


class HostedServer:
    """The parent's handle on one host process (and, through its process group, the user's server)."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process, self.port = process, port

    @classmethod
    def start(cls, params: Params, spec: WebSpec, timeout: float) -> HostedServer:
        assert spec.port is not None
        wait_until_closed(spec.port, PORT_RELEASE_S)  # the previous instance's server must be gone
        read_fd, write_fd = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "runtime.entrypoints.server_host", encode_params(params)],
                stdin=subprocess.PIPE, start_new_session=True, pass_fds=(write_fd,),
                env={**os.environ, REPORT_FD_ENV: str(write_fd)},
            )
        finally:
            os.close(write_fd)
        host = cls(process, spec.port)
        try:
            report = _read_report(read_fd, timeout, process)
        finally:
            os.close(read_fd)
        if "error" in report:
            host.stop()
            raise WebServerStartupError(str(report["error"]))
        return host

    def stop(self) -> None:
        """Stop the host's process group, then wait until the port is free for the next instance."""
        for sig in (signal.SIGTERM, signal.SIGKILL):  # SIGKILL: a host that hung, and children that outlived it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_GRACE_S)
        if self.process.stdin is not None:
            self.process.stdin.close()
        wait_until_closed(self.port, PORT_RELEASE_S)


def _read_report(fd: int, timeout: float, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return {"error": f"the instance did not start within {timeout:g} s (its @enter hooks and server "
                             "startup share the function's timeout)"}
        readable, _, _ = select.select([fd], [], [], min(remaining, 1.0))
        if not readable:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            return {"error": f"the instance's process exited with code {process.wait()} while starting"}
        data += chunk
    report: dict[str, Any] = json.loads(data)
    return report


def wait_until_closed(port: int, timeout: float) -> bool:
    """True once nothing accepts connections on ``port`` (or False after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((LOCAL_HOST, port), timeout=0.5):
                pass
        except OSError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)

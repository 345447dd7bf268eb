"""`ContainerProcess`: one ``Sandbox.exec``, run with the engine's own exec (``podman exec -i``).

While it runs, a marker named by its client's pid sits in the sandbox's ``execs/`` directory,
so the supervisor knows the sandbox is not idle; stdin writes touch ``activity`` for the same
reason.  ``timeout=`` is enforced inside the container (coreutils/busybox ``timeout -s KILL``),
because killing the engine's client would leave the command running in the sandbox.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from toolkit.aio import aio_method
from toolkit.sandboxes import records
from toolkit.sandboxes.streams import DrainedPipe, StreamReader, StreamType, StreamWriter

_CHILD_STREAM: dict[StreamType, Any] = {StreamType.PIPE: subprocess.PIPE, StreamType.DEVNULL: subprocess.DEVNULL,
                                        StreamType.STDOUT: None}


def with_timeout(command: Sequence[str], timeout: int | None) -> list[str]:
    return ["timeout", "--signal=KILL", f"{timeout}s", *command] if timeout else list(command)


class ContainerProcess:
    """A command running in a sandbox: ``stdout``/``stderr`` readers, ``stdin`` writer,
    ``wait()``, ``poll()`` and ``returncode``."""

    def __init__(self, sandbox_id: str, args: list[str], *, stdout: StreamType, stderr: StreamType,
                 text: bool) -> None:
        self._sandbox_id = sandbox_id
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=_CHILD_STREAM[stdout],
                                      stderr=_CHILD_STREAM[stderr])
        self._marker: Path | None = records.mark_exec(sandbox_id, self._proc.pid)
        self._lock = threading.Lock()
        self.stdout: StreamReader[Any] = StreamReader(self._reader(self._proc.stdout), text)
        self.stderr: StreamReader[Any] = StreamReader(self._reader(self._proc.stderr), text)
        self.stdin = StreamWriter(self._proc.stdin, lambda: records.touch_activity(sandbox_id))

    @staticmethod
    def _reader(pipe: IO[bytes] | None) -> Any:
        drained = DrainedPipe(pipe) if pipe is not None else None
        return lambda: drained

    def __repr__(self) -> str:
        return f"<ContainerProcess in {self._sandbox_id} returncode={self.returncode}>"

    def _finished(self, code: int | None) -> int | None:
        if code is not None:
            with self._lock:
                if self._marker is not None:
                    records.touch_activity(self._sandbox_id)
                    self._marker.unlink(missing_ok=True)
                    self._marker = None
        return code

    @property
    def returncode(self) -> int | None:
        return self.poll()

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        return self._finished(self._proc.poll())

    @aio_method
    def wait(self) -> int:
        """Wait for the command to exit; its exit code (137 when ``timeout=`` killed it)."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):  # the command may exit without reading it
                self._proc.stdin.flush()
        code = self._proc.wait()
        self._finished(code)
        return code

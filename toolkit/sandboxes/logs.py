"""A sandbox's main output read straight from the engine's log file (podman's ``k8s-file``).

Each sandbox's container logs to ``<sandbox dir>/container.log`` (``--log-opt path=``), so its
output is read without starting ``podman logs`` (about 50 ms a call), and the file outlives the
container: after the end it is simply read to its end.  The format, one record per line:

    2026-12-04T14:31:17.811381273+00:00 stdout F a whole line
    2026-12-04T14:31:17.811381273+00:00 stdout P a partial line, continued by the next record

Docker has no such path option; with docker the reader follows ``docker logs`` instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

POLL_S = 0.02
LOG_NAME = "container.log"


class LogTail:
    """One stream (stdout or stderr) of a k8s-file log, followed until ``ended()`` and read to its end."""

    def __init__(self, path: Path, stream: str, ended: Callable[[], bool]) -> None:
        self._path, self._stream, self._ended = path, stream.encode(), ended
        self._file: IO[bytes] | None = None
        self._pending = b""   # a record not yet ended by a newline (the writer is mid-line)
        self._out = bytearray()
        self._eof = False

    def _open(self) -> IO[bytes] | None:
        if self._file is None and self._path.exists():
            self._file = open(self._path, "rb")  # noqa: SIM115 - held while the stream is read
        return self._file

    def _pull(self) -> bool:
        """Take what the file has now; False when nothing new came."""
        file = self._open()
        chunk = file.read() if file is not None else b""
        if not chunk:
            return False
        records = (self._pending + chunk).split(b"\n")
        self._pending = records.pop()
        for record in records:
            self._take(record)
        return True

    def _take(self, record: bytes) -> None:
        parts = record.split(b" ", 3)
        if len(parts) < 3 or parts[1] != self._stream:
            return
        content = parts[3] if len(parts) == 4 else b""
        self._out += content if parts[2] == b"P" else content + b"\n"

    def _more(self) -> bool:
        """Wait for output; False at the end of the stream."""
        while not self._eof:
            ended = self._ended()  # checked before the read: nothing is written after the end
            if self._pull():
                return True
            if ended:
                self._eof = True
                if self._file is not None:
                    self._file.close()
            else:
                time.sleep(POLL_S)
        return False

    def readline(self) -> bytes:
        while b"\n" not in self._out and self._more():
            pass
        newline = self._out.find(b"\n")
        end = newline + 1 if newline >= 0 else len(self._out)
        line = bytes(self._out[:end])
        del self._out[:end]
        return line

    def read(self) -> bytes:
        while self._more():
            pass
        data = bytes(self._out)
        self._out.clear()
        return data

"""The main command's stdin, locally (podman): writable from any process, as on the platform.

The main command runs with its stdin kept open (``podman run -d -i``).  Its supervisor
(`toolkit.sandboxes.supervisor`) makes a FIFO ``stdin`` in the sandbox's directory and runs
``podman attach`` reading from it, so what any process writes into the FIFO reaches the command.
The supervisor also holds a write end of its own: the command sees EOF only once ``write_eof()``
leaves the ``stdin-eof`` marker and the supervisor lets go of it (a writer closing its handle is
not the end of the stream, as a process that wrote a line and exited must not end it).
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import IO

from toolkit.aio import aio_method
from toolkit.exception import NotSupportedError
from toolkit.sandboxes import records
from toolkit.sandboxes.streams import StreamWriter

FIFO_NAME = "stdin"
EOF_MARKER = "stdin-eof"


class MainStdin(StreamWriter):
    """``Sandbox.stdin``: ``write()`` buffers, ``drain()`` sends, ``write_eof()`` sends the rest, then EOF.

    Each send opens the FIFO and closes it again, so between sends only the supervisor holds it
    open: ``write_eof()`` from one handle ends the stream even while other handles exist."""

    def __init__(self, sandbox_id: str) -> None:
        self._pending = io.BytesIO()
        super().__init__(self._pending, lambda: records.touch_activity(sandbox_id))
        self._sandbox_id = sandbox_id
        self._home = records.directory(sandbox_id)

    def _open_pipe(self) -> IO[bytes]:
        if self._eof or (self._home / EOF_MARKER).exists():
            raise BrokenPipeError(f"Sandbox {self._sandbox_id}: its stdin was closed with write_eof().")
        return self._pending

    def _send(self) -> None:
        data = self._pending.getvalue()
        if data:
            with _open_fifo(self._home / FIFO_NAME, self._sandbox_id) as fifo:
                fifo.write(data)
            self._pending.seek(0)
            self._pending.truncate()

    @aio_method
    def drain(self) -> None:
        self._send()

    def write_eof(self) -> None:
        if not self._eof:
            self._send()
            self._eof = True
            (self._home / EOF_MARKER).touch()


def _open_fifo(path: Path, sandbox_id: str) -> IO[bytes]:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # fails at once, not blocks, when nobody reads
    except FileNotFoundError:
        raise NotSupportedError(f"Sandbox {sandbox_id} has no stdin to write: it was started without one (by "
                                "another engine or toolkit version); use sb.exec(...).stdin.") from None
    except OSError as exc:
        if exc.errno != errno.ENXIO:
            raise
        raise BrokenPipeError(f"Sandbox {sandbox_id}: its main command's stdin is closed (the command "
                              "ended).") from None
    os.set_blocking(fd, True)  # a full pipe then waits for the command to read, as a pipe does
    return os.fdopen(fd, "wb")

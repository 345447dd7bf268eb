"""Cross-process wakeups for blocking ``Queue.get``: one named pipe (FIFO) per queue partition.

Why a FIFO: a reader blocked in ``select()`` on it costs nothing until a writer sends a byte,
any local process can open it by path (no server to start, nothing to clean up when a process
dies), and it works wherever SQLite does on POSIX.  Polling the table, even with back-off,
either burns CPU or adds latency; inotify is Linux-only and says nothing about *which* write.

Protocol (see `FifoWaiter`):
* a reader opens the FIFO *before* it checks the table, so a put that lands between its check
  and its wait still leaves a byte in the pipe;
* after a commit, a writer sends one byte per item, non-blocking: with no reader the open fails
  (``ENXIO``) and nobody needed waking; with a full pipe the byte is dropped (readers wake anyway);
  a reader that leaves between the writer's open and write makes the write fail (``EPIPE``): also
  nobody to wake, and never an error for the put, whose item is already committed;
* each wake reads one byte and re-checks the table.  A spurious wake (another consumer was
  faster) just waits again.
The reader also keeps a write end open itself, so the pipe never reports end-of-file (which
would make ``select()`` return at once, forever), and re-checks every `SAFETY_RECHECK_S` in
case the FIFO file was removed under it.  Where ``os.mkfifo`` does not exist (Windows), the
waiter sleeps with back-off instead.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import select
import time
from pathlib import Path
from types import TracebackType

SAFETY_RECHECK_S = 5.0
_MAX_BYTES_PER_NOTIFY = 64


def fifo_path(directory: Path, *parts: str) -> Path:
    """The FIFO for one queue partition; hashed so any name makes a short, safe file name."""
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    return directory / f"{digest}.fifo"


def notify(path: Path, count: int = 1) -> None:
    """Wake up to ``count`` readers waiting on ``path`` (nothing happens when none waits)."""
    if not hasattr(os, "mkfifo"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ENOENT):  # no reader, or nobody ever waited
            return
        raise
    try:
        os.write(fd, b"\0" * max(1, min(count, _MAX_BYTES_PER_NOTIFY)))
    except BlockingIOError:
        pass  # the pipe is full of wake-ups already
    except BrokenPipeError:
        pass  # the last reader closed between our open and our write: nobody is left to wake
    finally:
        os.close(fd)


class FifoWaiter:
    """``with FifoWaiter(path) as w: ...check...; w.wait(timeout)`` (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._read_fd = self._write_fd = -1
        self._backoff = 0.005

    def __enter__(self) -> FifoWaiter:
        if not hasattr(os, "mkfifo"):
            return self
        try:  # the FIFO usually exists (made by an earlier wait): no mkdir/mkfifo system calls then
            self._read_fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkfifo(self.path, 0o600)
            self._read_fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self._write_fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)  # never EOF: see module docstring
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for fd in (self._read_fd, self._write_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._write_fd = -1

    def wait(self, timeout: float) -> None:
        timeout = max(0.0, min(timeout, SAFETY_RECHECK_S))
        if self._read_fd < 0:  # no FIFOs on this platform
            time.sleep(min(timeout, self._backoff))
            self._backoff = min(self._backoff * 2, 0.25)
            return
        readable, _, _ = select.select([self._read_fd], [], [], timeout)
        if readable:
            with contextlib.suppress(BlockingIOError):  # another reader may have taken this byte
                os.read(self._read_fd, 1)

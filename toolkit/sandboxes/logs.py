"""A sandbox's main output read straight from the engine's log file (podman's ``k8s-file``).

Each sandbox's container logs to ``<sandbox dir>/container.log`` (``--log-opt path=``), so its
output is read without starting ``podman logs`` (about 50 ms a call), and the file outlives the
container: after the end it is simply read to its end.  The format, one record per line:

    2026-12-04T14:31:17.811381273+00:00 stdout F a whole line
    2026-12-04T14:31:17.811381273+00:00 stdout P a partial line, continued by the next record

Docker has no such path option; with docker the reader follows ``docker logs`` instead.

``sb.logs`` (`SandboxLogs`) reads the same file as timed `LogEntry` lines (``tail``/``fetch``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from toolkit.exception import InvalidError
from toolkit.local.logs import LogEntry

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


# -- sb.logs: the same file, as timed entries ------------------------------------------------------

SOURCES = ("stdout", "stderr", "system")  # the platform's LogSource; locally nothing writes "system"


def read_entries(path: Path, sandbox_id: str) -> list[LogEntry]:
    """Every line of the k8s-file log, partial records joined, timed by the record that began it (the
    engine's own clock, in the file).  A last line without its newline yet is not returned."""
    entries: list[LogEntry] = []
    pending: dict[bytes, tuple[bytes, bytes]] = {}  # stream -> (timestamp of its start, text so far)
    for record in (path.read_bytes() if path.exists() else b"").split(b"\n"):
        parts = record.split(b" ", 3)
        if len(parts) < 3:
            continue
        stamp, stream, flag = parts[:3]
        start, text = pending.pop(stream, (stamp, b""))
        text += parts[3] if len(parts) == 4 else b""
        if flag == b"P":
            pending[stream] = (start, text)
            continue
        when = datetime.fromisoformat(start.decode()).astimezone(timezone.utc)
        entries.append(LogEntry(text.decode(errors="replace"), when, stream.decode(), sandbox_id, [sandbox_id]))
    return entries


def check_source(source: str | None) -> None:
    if source is not None and source not in SOURCES:
        raise InvalidError(f"logs source={source!r} is not one of {', '.join(SOURCES)}; pass one of them or None.")


class SandboxLogs:
    """``sb.logs``: the main command's output lines, each with the time the engine wrote it, read from
    the sandbox's log file, so they stay readable after the sandbox ended (as the platform's are).
    Output of ``exec`` is not in them (as on the platform)."""

    def __init__(self, sandbox_id: str, path: Path) -> None:
        self.sandbox_id, self._path = sandbox_id, path

    def tail(self, entries: int = 100, *, source: str | None = None) -> list[LogEntry]:
        """The newest ``entries`` lines (of ``source`` only, if given), oldest first."""
        check_source(source)
        lines = [e for e in read_entries(self._path, self.sandbox_id) if source in (None, e.source)]
        return lines[-entries:] if entries > 0 else []

    def fetch(self, *, since: datetime, until: datetime | None = None, source: str | None = None,
              search_text: str = "") -> list[LogEntry]:
        """Lines written from ``since`` (inclusive) to ``until`` (exclusive, default now) that contain
        ``search_text``; a naive datetime is local time, as on the platform."""
        check_source(source)
        start = since.astimezone(timezone.utc)
        end = (until or datetime.now(timezone.utc)).astimezone(timezone.utc)
        return [e for e in read_entries(self._path, self.sandbox_id)
                if start <= e.timestamp < end and source in (None, e.source) and search_text in e.message]

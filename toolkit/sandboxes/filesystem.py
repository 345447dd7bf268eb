"""A sandbox's files, read and written through its own ``exec``: the same code for a local
container and an ECS task (whose only way in is the agent's channel).

``sb.filesystem`` is the hosted platform's namespace (``read_bytes``, ``write_text``,
``list_files``, ``stat``, ``make_directory``, ``remove``, ``copy_from_local``/``copy_to_local``);
``sb.open``/``ls``/``mkdir``/``rm`` are the older calls.  Each is one ``exec`` of a POSIX tool
(``cat``, ``find``, ``stat``, ``mkdir``, ``rm``) that every image toolkit builds has, so nothing
is installed into the sandbox and nothing of the host is mounted.  Names with a tab or a newline
are not listed correctly (the listing is tab-separated lines).
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from toolkit.aio import aio_method
from toolkit.exception import (
    InvalidError,
    NotFoundError,
    SandboxTerminatedError,
    SandboxTimeoutError,
)

__all__ = ["FileInfo", "FileType", "FileWatchEvent", "FileWatchEventType", "SandboxFile", "SandboxFilesystem",
           "run_checked"]

# name, kind, size, raw mode (hex), permissions, owner, group, mtime: one line per entry
STAT_FORMAT = "%n\t%F\t%s\t%f\t%A\t%U\t%G\t%Y"


class Executes(Protocol):
    """What the file calls need of a sandbox: ``exec`` with byte streams, and its id for messages."""

    @property
    def object_id(self) -> str: ...

    def exec(self, *args: str, text: bool = True) -> Any: ...


class FileType(enum.Enum):
    UNSPECIFIED = "unspecified"
    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    FIFO = "fifo"
    SOCKET = "socket"


_KINDS = {"regular file": FileType.FILE, "regular empty file": FileType.FILE, "directory": FileType.DIRECTORY,
          "symbolic link": FileType.SYMLINK, "fifo": FileType.FIFO, "socket": FileType.SOCKET}


@dataclass(frozen=True)
class FileInfo:
    """One entry of the sandbox's filesystem, with the platform's field names."""

    name: str
    path: str
    type: FileType
    size: int
    mode: int
    permissions: str
    owner: str
    group: str
    modified_time: float
    symlink_target: str | None = None


class FileWatchEventType(enum.Enum):
    """The platform's kinds of change; a listing-based watch reports Create, Modify and Remove."""

    Unknown = "Unknown"
    Access = "Access"
    Create = "Create"
    Modify = "Modify"
    Remove = "Remove"


@dataclass
class FileWatchEvent:
    """One change ``filesystem.watch`` saw: the path(s) it touched and its kind."""

    paths: list[str]
    type: FileWatchEventType


WATCH_POLL_S = 0.25  # how often watch() lists what it watches (each look is one exec)
WATCH_FORMAT = "%n\t%F %i %s %y"  # name, then what a change alters: kind, inode, size, modification time (ns)


def _state(line: str) -> tuple[str, str]:
    """(path, state); a directory is only its kind and inode: files added below it are their own events."""
    path, state = line.split("\t", 1)
    return path, " ".join(state.split(" ")[:2]) if state.startswith("directory ") else state


def _changes(before: dict[str, str], after: dict[str, str]) -> list[FileWatchEvent]:
    created = [FileWatchEvent([p], FileWatchEventType.Create) for p in sorted(after.keys() - before.keys())]
    modified = [FileWatchEvent([p], FileWatchEventType.Modify) for p in sorted(after.keys() & before.keys())
                if after[p] != before[p]]
    removed = [FileWatchEvent([p], FileWatchEventType.Remove) for p in sorted(before.keys() - after.keys())]
    return created + modified + removed


def run_checked(sandbox: Executes, what: str, *args: str, stdin: bytes | None = None) -> bytes:
    """``exec`` ``args`` in the sandbox; its stdout, or an error carrying its stderr."""
    process = sandbox.exec(*args, text=False)
    if stdin is not None:
        process.stdin.write(stdin)
    process.stdin.write_eof()  # closing flushes what was written
    out = process.stdout.read()
    err = process.stderr.read()
    if process.wait() != 0:
        detail = err.decode(errors="replace").strip()
        raise InvalidError(f"Sandbox {sandbox.object_id}: {what} failed: {detail}")
    return bytes(out)


def _parse(line: str) -> FileInfo:
    path, kind, size, mode, permissions, owner, group, mtime = line.split("\t")
    return FileInfo(os.path.basename(path.rstrip("/")) or path, path, _KINDS.get(kind, FileType.UNSPECIFIED),
                    int(size), int(mode, 16), permissions, owner, group, float(mtime))


class SandboxFilesystem:
    """``sb.filesystem``: the sandbox's files, each call one ``exec`` inside it."""

    def __init__(self, sandbox: Executes) -> None:
        self._sandbox = sandbox

    def _run(self, what: str, *args: str, stdin: bytes | None = None) -> bytes:
        return run_checked(self._sandbox, what, *args, stdin=stdin)

    @aio_method
    def read_bytes(self, remote_path: str) -> bytes:
        return self._run(f"reading {remote_path!r}", "cat", "--", remote_path)

    @aio_method
    def read_text(self, remote_path: str) -> str:
        return self.read_bytes(remote_path).decode()

    @aio_method
    def write_bytes(self, data: bytes | bytearray | memoryview, remote_path: str) -> None:
        self._run(f"writing {remote_path!r}", "sh", "-c", 'cat > "$0"', remote_path, stdin=bytes(data))

    @aio_method
    def write_text(self, data: str, remote_path: str) -> None:
        self.write_bytes(data.encode(), remote_path)

    @aio_method
    def copy_from_local(self, local_path: str | os.PathLike[str], remote_path: str) -> None:
        with open(local_path, "rb") as source:
            self.write_bytes(source.read(), remote_path)

    @aio_method
    def copy_to_local(self, remote_path: str, local_path: str | os.PathLike[str]) -> None:
        data = self.read_bytes(remote_path)
        with open(local_path, "wb") as target:
            target.write(data)

    @aio_method
    def stat(self, remote_path: str) -> FileInfo:
        out = self._run(f"stat {remote_path!r}", "stat", "-c", STAT_FORMAT, "--", remote_path)
        info = _parse(out.decode().rstrip("\n"))
        if info.type is FileType.SYMLINK:
            target = self._run(f"readlink {remote_path!r}", "readlink", "--", remote_path).decode().rstrip("\n")
            info = FileInfo(**{**info.__dict__, "symlink_target": target})
        return info

    @aio_method
    def list_files(self, remote_path: str) -> list[FileInfo]:
        """The entries of a directory (not recursive), sorted by name."""
        out = self._run(f"listing {remote_path!r}", "find", remote_path, "-mindepth", "1", "-maxdepth", "1",
                        "-exec", "stat", "-c", STAT_FORMAT, "--", "{}", "+")
        return sorted((_parse(line) for line in out.decode().splitlines() if line), key=lambda i: i.name)

    @aio_method
    def make_directory(self, remote_path: str, *, create_parents: bool = True) -> None:
        self._run(f"mkdir {remote_path!r}", "mkdir", *(["-p"] if create_parents else []), "--", remote_path)

    @aio_method
    def remove(self, remote_path: str, *, recursive: bool = False) -> None:
        self._run(f"rm {remote_path!r}", "rm", *(["-r"] if recursive else []), "--", remote_path)

    def watch(self, remote_path: str, *, filter: Sequence[FileWatchEventType] | None = None,  # noqa: A002
              recursive: bool = False, timeout: int | None = None) -> Iterator[FileWatchEvent]:
        """Changes under ``remote_path`` (a file, or a directory's entries; ``recursive`` for all below it)
        as `FileWatchEvent` s, until ``timeout`` seconds pass or the sandbox ends.  Found by comparing
        listings (one ``exec`` of ``find``+``stat`` every `WATCH_POLL_S`), not by kernel events: a change
        undone between two looks is not seen, ``Access`` is never reported, and a rename is a ``Remove``
        and a ``Create``."""
        if not remote_path.startswith("/"):
            raise InvalidError(f"filesystem.watch: path {remote_path!r} must be absolute, e.g. '/workspace'.")
        wanted = set(filter) if filter is not None else set(FileWatchEventType)
        first = self._listing(remote_path, recursive)
        if first is None:
            raise NotFoundError(f"Sandbox {self._sandbox.object_id}: cannot watch {remote_path!r}: no such file or "
                                "directory; create it first (filesystem.make_directory).")
        return self._watch(remote_path, recursive, wanted, first, timeout)

    def _watch(self, path: str, recursive: bool, wanted: set[FileWatchEventType], seen: dict[str, str],
               timeout: float | None) -> Iterator[FileWatchEvent]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            time.sleep(WATCH_POLL_S if deadline is None else max(0.0, min(WATCH_POLL_S, deadline - time.monotonic())))
            try:
                now = self._listing(path, recursive) or {}
            except (SandboxTerminatedError, SandboxTimeoutError):
                return  # the sandbox ended: the watch ends, as on the platform
            for event in _changes(seen, now):
                if event.type in wanted:
                    yield event
            seen = now

    def _listing(self, path: str, recursive: bool) -> dict[str, str] | None:
        """path -> "size inode mtime(ns)" of what is watched now; None if ``path`` itself is missing."""
        depth = ["-mindepth", "1", *([] if recursive else ["-maxdepth", "1"])]
        script = ('p="$1"; f="$2"; shift 2; [ -e "$p" ] || exit 3; '
                  'if [ -d "$p" ]; then exec find "$p" "$@" -exec stat -c "$f" -- {} +; else exec stat -c "$f" -- "$p"; fi')
        process = self._sandbox.exec("sh", "-c", script, "watch", path, WATCH_FORMAT, *depth, text=False)
        process.stdin.write_eof()
        out = bytes(process.stdout.read())
        process.stderr.read()
        if process.wait() == 3:
            return None
        return dict(_state(line) for line in out.decode(errors="replace").splitlines() if "\t" in line)


@dataclass
class SandboxFile:
    """``sb.open(path, mode)``: read modes fetch the file whole, write modes send it on ``close()``."""

    sandbox: Executes
    path: str
    mode: str
    _buffer: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        if self.mode not in ("r", "rb", "w", "wb", "a", "ab"):
            raise InvalidError(f"Sandbox.open mode {self.mode!r} is not supported; use r, rb, w, wb, a or ab.")
        if self.mode.startswith("r"):
            self._buffer += run_checked(self.sandbox, f"reading {self.path!r}", "cat", "--", self.path)

    def read(self) -> str | bytes:
        data = bytes(self._buffer)
        return data if "b" in self.mode else data.decode()

    def write(self, data: str | bytes) -> int:
        if self.mode.startswith("r"):
            raise InvalidError(f"{self.path!r} was opened with mode {self.mode!r}; open it with 'w' to write.")
        self._buffer += data.encode() if isinstance(data, str) else data
        return len(data)

    def close(self) -> None:
        if not self.mode.startswith("r"):
            redirect = ">>" if self.mode.startswith("a") else ">"
            run_checked(self.sandbox, f"writing {self.path!r}", "sh", "-c", f'cat {redirect} "$0"', self.path,
                        stdin=bytes(self._buffer))
            self.mode = "r"  # written once

    def __enter__(self) -> SandboxFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FileCalls:
    """``open``/``ls``/``mkdir``/``rm`` and ``filesystem``, for any sandbox class with ``exec``."""

    @property
    def filesystem(self) -> SandboxFilesystem:
        return SandboxFilesystem(self)  # type: ignore[arg-type]

    @aio_method
    def ls(self, path: str) -> list[str]:
        """Names in a directory of the sandbox."""
        return run_checked(self, f"ls {path!r}", "ls", "-1A", "--", path).decode().splitlines()  # type: ignore[arg-type]

    @aio_method
    def mkdir(self, path: str, parents: bool = False) -> None:
        run_checked(self, f"mkdir {path!r}", "mkdir", *(["-p"] if parents else []), "--", path)  # type: ignore[arg-type]

    @aio_method
    def rm(self, path: str, recursive: bool = False) -> None:
        run_checked(self, f"rm {path!r}", "rm", *(["-r"] if recursive else []), "--", path)  # type: ignore[arg-type]

    def open(self, path: str, mode: str = "r") -> SandboxFile:
        """A file in the sandbox: read modes fetch it whole, write modes send it on ``close()``."""
        return SandboxFile(self, path, mode)  # type: ignore[arg-type]

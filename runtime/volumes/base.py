"""The store interface every volume backend implements, and the path rules they share.

Paths inside a volume are POSIX and relative to its root; a leading ``/`` is allowed (the
platform writes ``vol.listdir("/")``) and ``..`` never escapes the root.

Front door (``runtime.FRONT_DOORS``): the SDK imports the `VolumeStore` interface and `FileEntry`
behind ``toolkit.Volume``; `__all__` is what it offers.
"""

from __future__ import annotations

import datetime
import enum
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol

__all__ = ["CHUNK_BYTES", "FileEntry", "FileEntryType", "VolumeError", "VolumeStore", "clean_path"]

CHUNK_BYTES = 1 << 20  # read_file streams in pieces this big: memory stays flat for any file size


class VolumeError(Exception):
    """A volume operation that cannot be done: the message names the volume, the path and the fix."""


class FileEntryType(enum.IntEnum):
    """What a `FileEntry` is (the platform's numbering)."""

    UNSPECIFIED = 0
    FILE = 1
    DIRECTORY = 2
    SYMLINK = 3


class FileEntry(NamedTuple):
    path: str  # relative to the volume root, no leading "/"
    type: FileEntryType
    mtime: int  # seconds since the epoch
    size: int  # bytes (0 for directories)


class VolumeStore(Protocol):
    """One place volumes live.  ``name`` is always a checked volume name (`toolkit.volume`)."""

    kind: str  # "local" | "s3", shown by the CLI

    def exists(self, name: str) -> bool: ...
    def create(self, name: str) -> None: ...
    def delete(self, name: str) -> bool: ...
    def rename(self, name: str, new_name: str) -> None: ...
    def names(self) -> list[str]: ...

    def created_at(self, name: str) -> datetime.datetime:
        """When volume ``name`` was created (UTC); `FileNotFoundError` when it does not exist."""
        ...

    def listdir(self, name: str, path: str, recursive: bool) -> list[FileEntry]: ...
    def read(self, name: str, path: str) -> Iterator[bytes]: ...
    def write(self, name: str, path: str, source: BinaryIO) -> int: ...
    def remove(self, name: str, path: str, recursive: bool) -> None: ...
    def copy(self, name: str, source: str, destination: str, recursive: bool) -> None: ...
    def file_exists(self, name: str, path: str) -> bool: ...

    def working_copy(self, name: str) -> Path:
        """The directory a container mounts: the volume itself (local) or a synced copy (s3)."""
        ...

    def reload(self, name: str) -> None: ...
    def commit(self, name: str) -> None: ...


def clean_path(path: str, *, allow_root: bool = True) -> str:
    """``path`` relative to the volume root ("" for the root); refuses ``..`` past the root."""
    if not isinstance(path, str):
        raise VolumeError(f"volume paths are str, got {path!r}; e.g. '/weights/model.bin'.")
    relative = posixpath.normpath(path.replace("\\", "/").lstrip("/") or ".")
    if relative == ".." or relative.startswith("../"):
        raise VolumeError(f"{path!r} leaves the volume; use a path inside it (no '..' past its root).")
    if relative == "." and not allow_root:
        raise VolumeError(f"{path!r} names the volume's root; name a file inside it, e.g. '/data.bin'.")
    return "" if relative == "." else relative

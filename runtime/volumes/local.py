"""`LocalVolumeStore`: each volume is a directory ``<root>/<name>`` (root: ``$TOOLKIT_HOME/volumes``).

The store is *live*: every local process reads and writes the same directory, so a write is
visible to the others at once and ``commit``/``reload`` have nothing to move.  What keeps that
safe for programs written for the platform's commit/reload rules (docs/volumes.md): files the
API writes (``batch_upload``, ``toolkit volume put``, ``copy_files``) appear whole, written to a
temporary name and renamed into place, so a reader sees the old file or the new, never half.

Front door (``runtime.FRONT_DOORS``): the SDK imports `LocalVolumeStore`, where local volumes live;
`__all__` is what it offers.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from runtime.volumes.base import CHUNK_BYTES, FileEntry, FileEntryType, VolumeError, clean_path

__all__ = ["LocalVolumeStore"]


class LocalVolumeStore:
    kind = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalVolumeStore({str(self.root)!r})"

    # -- volumes -----------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        return (self.root / name).is_dir()

    def create(self, name: str) -> None:
        (self.root / name).mkdir(parents=True, exist_ok=True)
        born = self._born(name)
        if not born.exists():  # the first create only: Linux keeps no creation time on the directory
            born.parent.mkdir(exist_ok=True)
            born.touch()

    def _born(self, name: str) -> Path:
        """A marker beside the volumes (``.created/<name>``) whose mtime is the creation time; outside
        the volume's directory, so it never shows among the volume's files."""
        return self.root / ".created" / name

    def created_at(self, name: str) -> datetime.datetime:
        if not self.exists(name):
            raise FileNotFoundError(f"No volume {name!r} in {self.root} (see `toolkit volume list`).")
        born = self._born(name)
        stat = born.stat() if born.exists() else (self.root / name).stat()  # made before the marker existed
        return datetime.datetime.fromtimestamp(stat.st_mtime, datetime.timezone.utc)

    def delete(self, name: str) -> bool:
        directory = self.root / name
        if not directory.is_dir():
            return False
        # Rename first: a concurrent from_name() never sees a half-deleted volume.
        doomed = directory.with_name(f".deleting-{name}-{os.getpid()}")
        os.replace(directory, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        self._born(name).unlink(missing_ok=True)
        return True

    def rename(self, name: str, new_name: str) -> None:
        if (self.root / new_name).exists():
            raise VolumeError(f"Cannot rename volume {name!r} to {new_name!r}: a volume {new_name!r} exists; "
                              "delete it first or pick another name.")
        os.rename(self.root / name, self.root / new_name)
        if self._born(name).exists():
            os.replace(self._born(name), self._born(new_name))

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def working_copy(self, name: str) -> Path:
        return self.root / name

    def reload(self, name: str) -> None:
        """Nothing to pull: the directory is the volume."""

    def commit(self, name: str) -> None:
        """Nothing to push: the directory is the volume (writes are already visible)."""

    # -- files -------------------------------------------------------------------------------
    def _at(self, name: str, path: str) -> Path:
        relative = clean_path(path)
        return self.root / name / relative if relative else self.root / name

    def file_exists(self, name: str, path: str) -> bool:
        return self._at(name, path).exists()

    def listdir(self, name: str, path: str, recursive: bool) -> list[FileEntry]:
        base = self._at(name, path)
        if base.is_file():
            return [self._entry(name, base)]
        if not base.is_dir():
            raise FileNotFoundError(f"No file or directory {path!r} in volume {name!r} "
                                    f"(see `toolkit volume ls {name}`).")
        children = base.rglob("*") if recursive else base.iterdir()
        return sorted((self._entry(name, p) for p in children if not p.name.startswith(".toolkit-tmp-")),
                      key=lambda e: e.path)

    def _entry(self, name: str, path: Path) -> FileEntry:
        stat = path.lstat()
        kind = (FileEntryType.SYMLINK if path.is_symlink() else
                FileEntryType.DIRECTORY if path.is_dir() else FileEntryType.FILE)
        size = 0 if kind is FileEntryType.DIRECTORY else stat.st_size
        return FileEntry(path.relative_to(self.root / name).as_posix(), kind, int(stat.st_mtime), size)

    def read(self, name: str, path: str) -> Iterator[bytes]:
        target = self._at(name, path)
        if not target.is_file():
            what = "a directory" if target.is_dir() else "not in the volume"
            raise FileNotFoundError(f"{path!r} is {what} {name!r}; read a file (see `toolkit volume ls {name}`).")
        return _chunks(target)

    def write(self, name: str, path: str, source: BinaryIO) -> int:
        target = self._at(name, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".toolkit-tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK_BYTES)
                written = out.tell()
            os.replace(temp, target)  # whole or not at all, for readers in other processes
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return written

    def remove(self, name: str, path: str, recursive: bool) -> None:
        target = self._at(name, clean_path(path, allow_root=False))
        if target.is_dir() and not target.is_symlink():
            if not recursive and any(target.iterdir()):
                raise VolumeError(f"{path!r} in volume {name!r} is a directory that is not empty; "
                                  "pass recursive=True (CLI: `toolkit volume rm -r`) to remove it all.")
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        else:
            raise FileNotFoundError(f"No file or directory {path!r} in volume {name!r} to remove.")

    def copy(self, name: str, source: str, destination: str, recursive: bool) -> None:
        src, dst = self._at(name, source), self._at(name, destination)
        if dst.is_dir() or destination.endswith("/"):  # "dir/": into it, as cp does
            dst = dst / src.name
        if src.is_dir():
            if not recursive:
                raise VolumeError(f"{source!r} in volume {name!r} is a directory; pass recursive=True to copy it.")
            shutil.copytree(src, dst, dirs_exist_ok=True)
        elif src.is_file():
            with src.open("rb") as data:
                self.write(name, dst.relative_to(self.root / name).as_posix(), data)
        else:
            raise FileNotFoundError(f"No file or directory {source!r} in volume {name!r} to copy.")


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk

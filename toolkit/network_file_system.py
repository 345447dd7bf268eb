"""`NetworkFileSystem`: the platform's deprecated shared file system, kept as an alias of `toolkit.Volume`.

The hosted platform deprecated ``NetworkFileSystem`` in favour of ``Volume`` and warns on every
``from_name``/``ephemeral``/``create_deployed``; toolkit warns the same way (a `DeprecationWarning`)
and keeps such programs running on volume storage:

>>> nfs = toolkit.NetworkFileSystem.from_name("cache", create_if_missing=True)   # warns
>>> @app.function(network_file_systems={"/cache": nfs})                         # mounted like a volume
... def f(): ...

A network file system called ``cache`` is the volume ``nfs.cache`` (its own namespace, as on the
platform: a `Volume` called ``cache`` is a different one; ``toolkit volume ls nfs.cache`` shows its
files).  Writes need no ``commit`` locally (the store is live, as an NFS is); deployed, the runtime
commits after each invocation and when the container stops, as for any volume (docs/volumes.md).
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from runtime.volumes.base import FileEntry
from toolkit.aio import aio_iter_method, aio_method
from toolkit.construction import refuse_construction
from toolkit.exception import InvalidError
from toolkit.handles import Clientless
from toolkit.state import check_name
from toolkit.unsupported import no_client, not_supported
from toolkit.volume import Volume

__all__ = ["DEPRECATION", "NAMESPACE", "NetworkFileSystem"]

NAMESPACE = "nfs."  # the volume behind NetworkFileSystem "x" is "nfs.x"
DEPRECATION = ("toolkit.NetworkFileSystem is deprecated (as modal.NetworkFileSystem is on the hosted platform) "
               "and will be removed in a future release. Use toolkit.Volume instead.")


def warn_deprecated(stacklevel: int = 3) -> None:
    warnings.warn(DEPRECATION, DeprecationWarning, stacklevel=stacklevel)


def _volume_name(name: str) -> str:
    check_name("NetworkFileSystem", name)
    if len(NAMESPACE + name) > 64:
        raise InvalidError(f"NetworkFileSystem name {name!r} is {len(name)} characters; toolkit keeps it as the volume "
                           f"{NAMESPACE + name!r}, so use at most {64 - len(NAMESPACE)}.")
    return NAMESPACE + name


class NetworkFileSystem(Clientless):
    """A handle on a named network file system: a `Volume` in the ``nfs.`` namespace."""

    name: str
    volume: Volume  # nfs.<name>, or an ephemeral volume as it is

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # the platform's signature (toolkit.construction)
        refuse_construction("NetworkFileSystem", "NetworkFileSystem.from_name(name, create_if_missing=True) or "
                                                 "NetworkFileSystem.ephemeral() (or, better, their Volume namesakes)")

    @classmethod
    def _make(cls, name: str, volume: Volume) -> NetworkFileSystem:
        nfs = object.__new__(cls)
        nfs.name, nfs.volume = name, volume
        return nfs

    def __repr__(self) -> str:
        return f"toolkit.NetworkFileSystem({self.name!r})"

    @staticmethod
    def from_name(name: str, *, environment_name: str | None = None, create_if_missing: bool = False,
                  client: Any = None) -> NetworkFileSystem:
        """The network file system ``name`` (created on first use with ``create_if_missing``); warns."""
        no_client("NetworkFileSystem.from_name", client)
        warn_deprecated()
        return NetworkFileSystem._make(name, Volume.from_name(_volume_name(name), create_if_missing=create_if_missing))

    @staticmethod
    def create_deployed(deployment_name: str, client: Any = None, environment_name: str | None = None) -> str:
        """Create it now (if missing); returns its `object_id`.  Warns."""
        no_client("NetworkFileSystem.create_deployed", client)
        warn_deprecated()
        volume = Volume.from_name(_volume_name(deployment_name), create_if_missing=True)
        return NetworkFileSystem._make(deployment_name, volume).hydrate().object_id

    @staticmethod
    def delete(name: str, client: Any = None, environment_name: str | None = None) -> None:
        """Delete the network file system ``name`` and its files."""
        Volume.delete(_volume_name(name))

    @staticmethod
    @contextmanager
    def ephemeral(client: Any = None, environment_name: str | None = None,
                  _heartbeat_sleep: float = 300) -> Iterator[NetworkFileSystem]:
        """``with toolkit.NetworkFileSystem.ephemeral() as nfs:`` -- deleted when the block ends.  Warns."""
        warn_deprecated(stacklevel=4)  # past contextmanager's __enter__
        with Volume.ephemeral() as vol:
            yield NetworkFileSystem._make(vol.name, vol)  # its name is unique already: no nfs. namespace

    @property
    def object_id(self) -> str:
        return f"sv-{self.name}"

    def hydrate(self, client: Any = None) -> NetworkFileSystem:
        self.volume.hydrate()
        return self

    @not_supported("NetworkFileSystem.get_dashboard_url", "toolkit has no dashboard",
                   "list the files with `toolkit volume ls nfs.<name>`")
    def get_dashboard_url(self) -> str: ...  # type: ignore[empty-body]  # replaced by the refusal

    # -- files -----------------------------------------------------------------------------------
    @aio_method
    def write_file(self, remote_path: str, fp: BinaryIO, progress_cb: Callable[..., Any] | None = None) -> int:
        """Write ``fp``'s bytes at ``remote_path`` (parents are created; a path ending in ``/`` is a
        directory: the file keeps its own name there).  Returns the bytes written."""
        if remote_path.endswith("/"):
            remote_path += os.path.basename(getattr(fp, "name", "") or "") or _missing_name(remote_path)
        data = fp.read()
        with self.volume.batch_upload(force=True) as batch:
            batch.put_file(io.BytesIO(data), remote_path)
        return len(data)

    @aio_method
    def add_local_file(self, local_path: Path | str, remote_path: str | PurePosixPath | None = None,
                       progress_cb: Callable[..., Any] | None = None) -> int:
        """Upload a local file (to ``/<its name>`` unless ``remote_path`` is given)."""
        local = Path(local_path)
        target = PurePosixPath("/", local.name) if remote_path is None else PurePosixPath(remote_path)
        with local.open("rb") as data:
            return self.write_file(target.as_posix(), data, progress_cb)

    @aio_method
    def add_local_dir(self, local_path: Path | str, remote_path: str | PurePosixPath | None = None,
                      progress_cb: Callable[..., Any] | None = None) -> None:
        """Upload a local directory's files (to ``/<its name>/...`` unless ``remote_path`` is given)."""
        local = Path(local_path)
        if not local.is_dir():
            raise NotADirectoryError(f"add_local_dir: {os.fspath(local_path)!r} is not a directory on this machine.")
        target = PurePosixPath("/", local.name) if remote_path is None else PurePosixPath(remote_path)
        with self.volume.batch_upload(force=True) as batch:
            batch.put_directory(local, target)

    @aio_method
    def listdir(self, path: str) -> list[FileEntry]:
        """A directory's entries, a file's own entry, or (with ``*``/``**``) every path matching the glob."""
        if "*" not in path:
            return list(self.volume.listdir(path))
        pattern = _glob(path.lstrip("/"))
        return [e for e in self.volume.listdir("/", recursive=True) if pattern.fullmatch(e.path)]

    @aio_iter_method
    def iterdir(self, path: str) -> Iterator[FileEntry]:
        return iter(self.listdir(path))

    @aio_iter_method
    def read_file(self, path: str) -> Iterator[bytes]:
        return iter(self.volume.read_file(path))

    @aio_method
    def remove_file(self, path: str, recursive: bool = False) -> None:
        self.volume.remove_file(path, recursive=recursive)


def _glob(pattern: str) -> re.Pattern[str]:
    """A glob as a regular expression: ``**/`` is any number of directories (none too), ``*`` and ``?``
    stay inside one path segment."""
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    special = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(special.get(part, re.escape(part)) for part in parts))


def _missing_name(remote_path: str) -> str:
    raise InvalidError(f"write_file({remote_path!r}, fp): the path names a directory and fp has no file name; "
                       "write to a file path, e.g. 'dir/data.bin'.")

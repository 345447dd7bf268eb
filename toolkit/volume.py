"""`Volume`: a named directory of files shared by every function of an app, kept between runs.

>>> vol = toolkit.Volume.from_name("weights", create_if_missing=True)
>>> @app.function(volumes={"/models": vol})
... def infer():
...     open("/models/w.bin", "rb")      # the volume, mounted at the path you wrote
...     vol.commit()                      # make what this container wrote visible to others

Where the files live follows the same rule as Dicts and Queues (`toolkit.state`):

* ``TOOLKIT_VOLUME_BUCKET`` set -- the deployed app's S3 bucket, one prefix per volume
  (infra sets it on every function that mounts a volume; set it yourself to reach a deployed
  app's volumes from a laptop).  A container works on a copy: ``reload`` pulls, ``commit`` pushes,
  both run on their own when a container starts and stops.
* otherwise -- a directory per volume under ``$TOOLKIT_HOME/volumes``, *live*: local workers see
  each other's writes at once, so ``commit``/``reload`` return at once (docs/volumes.md: why
  programs written for the platform's rules stay correct).

Nothing here imports boto3 until a deployed volume is used.
"""

from __future__ import annotations

import functools
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TypeVar

from runtime.environment import ContainerEnv
from runtime.volumes.base import FileEntry, FileEntryType
from toolkit import config
from toolkit.aio import aio_iter_method, aio_method
from toolkit.construction import refuse_construction
from toolkit.exception import InvalidError, NotFoundError, NotSupportedError
from toolkit.named_objects import ObjectInfo
from toolkit.state import check_name
from toolkit.unsupported import UnsupportedProperty, not_supported

if TYPE_CHECKING:
    from runtime.manifest import BucketMount, VolumeMount
    from runtime.volumes.base import VolumeStore

__all__ = ["BUCKET_ENV", "FileEntry", "FileEntryType", "Volume", "VolumeInfo", "VolumeUploadContextManager",
           "container_binds", "volume_store", "volumes_root"]

BUCKET_ENV = ContainerEnv.name("volume_bucket")
F = TypeVar("F", bound=Callable[..., Any])
VolumeInfo = ObjectInfo  # what ``Volume.info()`` returns: the platform's VolumeInfo fields (name, created_at, created_by)
_lock = threading.Lock()
_stores: dict[tuple[str, str], VolumeStore] = {}


def volumes_root() -> Path:
    return config.home() / "volumes"


def volume_store() -> VolumeStore:
    """This process's volume store (one per bucket or directory, reused)."""
    bucket = os.environ.get(BUCKET_ENV)
    key = ("s3", bucket) if bucket else ("local", str(volumes_root()))
    with _lock:
        if key not in _stores:
            _stores[key] = _open(*key)
        return _stores[key]


def _open(kind: str, where: str) -> VolumeStore:
    if kind == "s3":
        from runtime.volumes.s3 import S3VolumeStore

        return S3VolumeStore(where)
    from runtime.volumes.local import LocalVolumeStore

    return LocalVolumeStore(where)


def _named_errors(f: F) -> F:
    """The store's `VolumeError` becomes toolkit's `InvalidError` (same message: value and fix)."""
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from runtime.volumes.base import VolumeError

        try:
            return f(*args, **kwargs)
        except VolumeError as exc:
            raise InvalidError(str(exc)) from None

    return wrapper  # type: ignore[return-value]


class _VolumeManager:
    """``Volume.objects``: the platform's namespace for managing volumes by name."""

    def create(self, name: str, *, allow_existing: bool = False, environment_name: str | None = None,
               client: Any = None) -> None:
        store = volume_store()
        if store.exists(check_name("Volume", name)) and not allow_existing:
            raise InvalidError(f"Volume {name!r} already exists; pass allow_existing=True to accept that.")
        if not store.exists(name):
            store.create(name)

    def list(self, *, max_objects: int | None = None, created_before: Any = None,
             environment_name: str = "", client: Any = None) -> list[Volume]:
        return [Volume._make(n) for n in volume_store().names()[:max_objects]]

    def delete(self, name: str, *, allow_missing: bool = False, environment_name: str | None = None,
               client: Any = None) -> None:
        if not volume_store().delete(check_name("Volume", name)) and not allow_missing:
            raise NotFoundError(f"No Volume named {name!r} to delete (see `toolkit volume list`).")


class Volume:
    """A handle on a named volume; nothing touches the store until the first operation."""

    name: str  # the volume's name (toolkit names volumes; `object_id` derives from it)
    _create_if_missing: bool
    _ephemeral: bool
    _read_only: bool
    _bound: Any  # the store, found on first use (never pickled)
    objects = _VolumeManager()
    client = UnsupportedProperty("Volume.client", "toolkit has no client object: a volume talks to the store "
                                 "toolkit.volume picks", "use the Volume's own methods")

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # the platform's signature (toolkit.construction)
        refuse_construction("Volume", "Volume.from_name(name, create_if_missing=True), Volume.ephemeral() or "
                                      "Volume.from_id(volume_id)")

    @classmethod
    def _make(cls, name: str, *, create_if_missing: bool = False, ephemeral: bool = False,
              read_only: bool = False) -> Volume:
        volume = object.__new__(cls)
        volume.name = check_name("Volume", name)
        volume._create_if_missing, volume._ephemeral, volume._read_only = create_if_missing, ephemeral, read_only
        volume._bound = None
        return volume

    def __repr__(self) -> str:
        return f"toolkit.Volume({self.name!r})"

    @property
    def is_read_only(self) -> bool:
        """True for a `read_only` handle: a function mounting it never commits it."""
        return self._read_only

    @property
    def creates_if_missing(self) -> bool:
        """True when a container mounting this volume creates it if it does not exist yet."""
        return self._create_if_missing

    @property
    def object_id(self) -> str:
        """A stable id for the volume (toolkit names volumes, so the id is derived from the name)."""
        return f"vo-{self.name}"

    @staticmethod
    def from_name(name: str, *, environment_name: str | None = None, create_if_missing: bool = False,
                  version: int | None = None, create_options: Any = None, client: Any = None) -> Volume:
        """The volume called ``name``; with ``create_if_missing`` it is created on first use.
        (``environment_name``, ``version``, ``create_options`` and ``client`` are accepted for
        compatibility: toolkit has one store and one volume version.)"""
        return Volume._make(name, create_if_missing=create_if_missing)

    @staticmethod
    def from_id(volume_id: str, client: Any = None) -> Volume:
        """The volume whose `object_id` is ``volume_id`` (``vo-<name>``)."""
        if not isinstance(volume_id, str) or not volume_id.startswith("vo-"):
            raise InvalidError(f"{volume_id!r} is not a volume id; ids look like 'vo-<name>' (vol.object_id).")
        return Volume._make(volume_id[3:])

    @staticmethod
    def rename(old_name: str, new_name: str, *, client: Any = None, environment_name: str | None = None) -> None:
        """Rename a volume (functions that mount it by its old name will not find it)."""
        store = volume_store()
        if not store.exists(check_name("Volume", old_name)):
            raise NotFoundError(f"No Volume named {old_name!r} to rename (see `toolkit volume list`).")
        _named_errors(store.rename)(old_name, check_name("Volume", new_name))

    def info(self) -> VolumeInfo:
        """The volume's name and when it was created, from the store (``created_by`` is None: toolkit
        records no user)."""
        try:
            created = self._store().created_at(self.name)
        except FileNotFoundError as exc:
            raise NotFoundError(str(exc)) from None
        return VolumeInfo(self.name, created)

    def hydrate(self, client: Any = None) -> Volume:
        """Find (or, with ``create_if_missing``, create) the volume now instead of at first use."""
        self._store()
        return self

    def read_only(self) -> Volume:
        """A handle that refuses writes through the API (``batch_upload``, ``remove_file``,
        ``copy_files``) and never commits.  The mount itself stays writable on toolkit."""
        handle = Volume._make(self.name, create_if_missing=self._create_if_missing, read_only=True)
        return handle

    def with_mount_options(self, *, read_only: bool = False, sub_path: str | None = None) -> Volume:
        if sub_path is not None:
            raise NotSupportedError("Volume.with_mount_options(sub_path=...) is not supported by toolkit: a mount is "
                                    "always the volume's root. Instead, mount the volume and use the sub-directory's "
                                    "path under the mount path.")
        return self.read_only() if read_only else self

    @not_supported("Volume.get_dashboard_url", "toolkit has no dashboard",
                   "list the volume's files with `toolkit volume ls NAME`")
    def get_dashboard_url(self) -> str: ...  # type: ignore[empty-body]  # replaced by the refusal

    def _writable(self, what: str) -> None:
        if self._read_only:
            raise InvalidError(f"{what} on a read-only handle of volume {self.name!r}; use "
                               f"toolkit.Volume.from_name({self.name!r}) (not .read_only()) to write.")

    @staticmethod
    @contextmanager
    def ephemeral(client: Any = None, environment_name: str | None = None, version: int | None = None,
                  create_options: Any = None, _heartbeat_sleep: float = 300) -> Iterator[Volume]:
        """``with toolkit.Volume.ephemeral() as vol:`` -- an anonymous volume deleted when the block ends."""
        vol = Volume._make(f"ephemeral-{secrets.token_hex(8)}", ephemeral=True)
        vol._store()
        try:
            yield vol
        finally:
            volume_store().delete(vol.name)

    @staticmethod
    def delete(name: str, *, environment_name: str | None = None) -> None:
        """Delete the volume called ``name`` and every file in it."""
        if not volume_store().delete(check_name("Volume", name)):
            raise NotFoundError(f"No Volume named {name!r} to delete (see `toolkit volume list`).")

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_bound": None}  # a handle sent to a worker finds its store there

    def _store(self) -> VolumeStore:
        if self._bound is None:
            store = volume_store()
            if not store.exists(self.name):
                if not (self._create_if_missing or self._ephemeral):
                    raise NotFoundError(f"No Volume named {self.name!r}; create it with toolkit.Volume.from_name("
                                        f"{self.name!r}, create_if_missing=True) or `toolkit volume create "
                                        f"{self.name}` (see `toolkit volume list`).")
                store.create(self.name)
            self._bound = store
        return self._bound  # type: ignore[no-any-return]

    # -- consistency -------------------------------------------------------------------------------
    @aio_method
    def commit(self) -> None:
        """Make what this container wrote under the mount path visible to other containers.
        Runs on its own when a container stops; a no-op where the store is live (local)."""
        from runtime.volumes.mounts import mounted

        if self._read_only:
            return
        for _path, store in mounted(self.name, writable=True)[:1]:
            _named_errors(store.commit)(self.name)

    @aio_method
    def reload(self) -> None:
        """See what other containers committed since this one mounted (or last reloaded) the volume."""
        from runtime.volumes.mounts import mounted

        for _path, store in mounted(self.name)[:1]:
            _named_errors(store.reload)(self.name)

    # -- reading -----------------------------------------------------------------------------------
    @aio_method
    @_named_errors
    def listdir(self, path: str, *, recursive: bool = False) -> list[FileEntry]:
        """The entries under ``path`` ("/" for the root), sorted by path; a file lists itself."""
        return self._store().listdir(self.name, path, recursive)

    @aio_iter_method
    def iterdir(self, path: str, *, recursive: bool = True) -> Iterator[FileEntry]:
        return iter(self.listdir(path, recursive=recursive))

    @aio_iter_method
    @_named_errors
    def read_file(self, path: str) -> Iterator[bytes]:
        """The file's bytes in chunks of at most 1 MiB, read as you iterate (memory stays flat)."""
        return self._store().read(self.name, path)

    @aio_method
    def read_file_into_fileobj(self, path: str, fileobj: IO[bytes],
                               progress_cb: Callable[..., Any] | None = None) -> int:
        """Write the file's bytes into ``fileobj``; returns how many.  ``progress_cb(advance=n)``
        is called after each chunk."""
        written = 0
        for chunk in self.read_file(path):
            fileobj.write(chunk)
            written += len(chunk)
            if progress_cb is not None:
                progress_cb(advance=len(chunk))
        return written

    # -- writing -----------------------------------------------------------------------------------
    @aio_method
    @_named_errors
    def remove_file(self, path: str, *, recursive: bool = False) -> None:
        self._writable("remove_file")
        self._store().remove(self.name, path, recursive)

    @aio_method
    @_named_errors
    def copy_files(self, src_paths: Sequence[str], dst_path: str, recursive: bool = False) -> None:
        """Copy files (or, with ``recursive``, directories) inside the volume; into ``dst_path`` when
        it is a directory or several sources are given."""
        self._writable("copy_files")
        if isinstance(src_paths, str):
            raise InvalidError(f"copy_files takes a list of source paths, got the string {src_paths!r}; "
                               f"write copy_files([{src_paths!r}], {dst_path!r}).")
        into = dst_path if len(src_paths) < 2 or dst_path.endswith("/") else dst_path + "/"
        for source in src_paths:
            self._store().copy(self.name, source, into, recursive)

    def batch_upload(self, force: bool = False) -> VolumeUploadContextManager:
        """``with vol.batch_upload() as batch: batch.put_file(...); batch.put_directory(...)``: the files
        are written when the block ends without an error.  Without ``force``, a file that already
        exists in the volume is an error (nothing is written)."""
        self._writable("batch_upload")
        return VolumeUploadContextManager(self, force)


class VolumeUploadContextManager:
    """Collects uploads, then writes them all when the ``with`` block ends cleanly."""

    def __init__(self, volume: Volume, force: bool) -> None:
        self._volume, self._force = volume, force
        self._files: list[tuple[Path | BinaryIO, str]] = []

    def __enter__(self) -> VolumeUploadContextManager:
        return self

    async def __aenter__(self) -> VolumeUploadContextManager:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self._upload()

    async def __aexit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            import asyncio

            await asyncio.to_thread(self._upload)

    def put_file(self, local_file: str | os.PathLike[str] | BinaryIO, remote_path: str | PurePosixPath,
                 mode: int | None = None) -> None:
        """Upload one local file (a path or an open binary file) to ``remote_path`` in the volume."""
        if isinstance(local_file, (str, os.PathLike)) and not Path(local_file).is_file():
            raise FileNotFoundError(f"put_file: {os.fspath(local_file)!r} is not a file on this machine.")
        source = Path(local_file) if isinstance(local_file, (str, os.PathLike)) else local_file
        self._files.append((source, str(remote_path)))

    def put_directory(self, local_path: str | os.PathLike[str], remote_path: str | PurePosixPath,
                      recursive: bool = True) -> None:
        """Upload the files of a local directory under ``remote_path`` (subdirectories too, by default)."""
        base = Path(local_path)
        if not base.is_dir():
            raise NotADirectoryError(f"put_directory: {os.fspath(local_path)!r} is not a directory on this machine.")
        files = base.rglob("*") if recursive else base.iterdir()
        for file in sorted(p for p in files if p.is_file()):
            self._files.append((file, f"{str(remote_path).rstrip('/')}/{file.relative_to(base).as_posix()}"))

    @_named_errors
    def _upload(self) -> None:
        store = self._volume._store()
        if not self._force:
            taken = [remote for _, remote in self._files if store.file_exists(self._volume.name, remote)]
            if taken:
                raise FileExistsError(f"{taken[0]!r} already exists in volume {self._volume.name!r} "
                                      f"({len(taken)} of the files do); pass batch_upload(force=True) to overwrite.")
        for source, remote in self._files:
            if isinstance(source, Path):
                with source.open("rb") as data:
                    store.write(self._volume.name, remote, data)
            else:
                store.write(self._volume.name, remote, source)


def container_binds(tag: str, volumes: Sequence[VolumeMount], buckets: Sequence[BucketMount]) -> list[tuple[str, str, bool]]:
    """``toolkit serve --containers``: each local volume of function ``tag`` as ``(host directory, path in the
    container, read only)`` for the engine's ``-v``, at the image's staging path (the image links the mount
    path there; the runtime finds it already mounted and leaves it: `runtime.volumes.mounts`).  The engine
    enforces ``read_only`` (``:ro``).  Refused, naming the alternative: a CloudBucketMount (its secrets and
    sync are the deployed runtime's), and volumes of a deployed store (``TOOLKIT_VOLUME_BUCKET`` set)."""
    from runtime.volumes.mounts import staged

    if buckets:
        raise NotSupportedError(f"{tag} mounts CloudBucketMount {buckets[0].bucket_name!r} at {buckets[0].path}, which "
                                "toolkit serve --containers does not sync. Instead, serve without --containers (local "
                                "workers sync bucket mounts), or deploy.")
    if volumes and os.environ.get(BUCKET_ENV):
        raise NotSupportedError(f"{tag} mounts volume {volumes[0].name!r}, but {BUCKET_ENV} points this machine at a "
                                f"deployed app's volumes, which toolkit serve --containers cannot bind into a container. "
                                f"Instead, unset {BUCKET_ENV} (local volumes), or serve without --containers.")
    store = volume_store()
    for mount in volumes:
        if mount.create_if_missing and not store.exists(mount.name):
            store.create(mount.name)
        elif not store.exists(mount.name):
            raise NotFoundError(f"{tag} mounts volume {mount.name!r} at {mount.path}, but no such volume exists; create "
                                f"it with `toolkit volume create {mount.name}` or Volume.from_name({mount.name!r}, "
                                "create_if_missing=True).")
    return [(str(store.working_copy(m.name)), staged(m.path), m.read_only) for m in volumes]

"""`S3VolumeStore`: a deployed app's volumes, one prefix per volume in the app's volume bucket.

Layout: ``volumes/<name>/.toolkit-volume`` marks that the volume exists; its files are objects
``volumes/<name>/files/<path>``.  Per-volume prefixes are what IAM grants (infra/volumes.py).

A container works on a copy, ``<cache>/<name>`` (``/tmp/toolkit-volumes/<bucket>`` by default:
``/tmp`` is the only writable place in a Lambda).  ``reload`` pulls objects whose ETag changed since the last
sync and removes files others deleted (unless edited here and not committed yet); ``commit``
pushes files whose size or mtime changed since the last sync and deletes objects for files
removed here.  Each file is one object, so concurrent writers of *different* files never lose
each other's work; for the *same* file the last commit wins, as on the platform.  What was last
synced is kept in ``<cache>/.sync/<name>.json``.

Front door (``runtime.FRONT_DOORS``): the SDK imports `S3VolumeStore`, a deployed app's volumes;
`__all__` is what it offers.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import os
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from runtime.awsclients import client
from runtime.volumes.base import CHUNK_BYTES, FileEntry, FileEntryType, VolumeError, clean_path

__all__ = ["DEFAULT_CACHE", "PREFIX", "S3VolumeStore", "sync_entries", "unchanged_since_sync"]

PREFIX = "volumes/"
MARKER = ".toolkit-volume"
DEFAULT_CACHE = "/tmp/toolkit-volumes"  # noqa: S108 - Lambda's only writable directory
SYMLINK_META = "toolkit-symlink-target"  # x-amz-meta-* of a symbolic link's object: its target, percent-encoded
SMALL_OBJECT = 1 << 20  # objects up to this size are fetched with one GetObject (metadata included)
SyncState = dict[str, dict[str, Any]]  # path -> {"etag", "size", "mtime_ns"} as of the last sync


class S3VolumeStore:
    kind = "s3"

    def __init__(self, bucket: str, *, cache: str | os.PathLike[str] | None = None, s3: Any = None) -> None:
        self.bucket = bucket
        self.cache = Path(cache) if cache is not None else Path(DEFAULT_CACHE) / bucket  # a copy per bucket
        self.s3 = s3 if s3 is not None else client("s3")

    def __repr__(self) -> str:
        return f"S3VolumeStore({self.bucket!r})"

    # -- keys ----------------------------------------------------------------------------------
    @staticmethod
    def files_prefix(name: str) -> str:
        return f"{PREFIX}{name}/files/"

    def _key(self, name: str, path: str) -> str:
        return self.files_prefix(name) + clean_path(path)

    def _objects(self, prefix: str, delimiter: str | None = None) -> Iterator[dict[str, Any]]:
        """Every page of a listing (Contents and CommonPrefixes)."""
        options = {"Bucket": self.bucket, "Prefix": prefix, **({"Delimiter": delimiter} if delimiter else {})}
        yield from self.s3.get_paginator("list_objects_v2").paginate(**options)

    def _remote(self, name: str) -> dict[str, tuple[str, int]]:
        start = len(self.files_prefix(name))
        return {obj["Key"][start:]: (obj["ETag"], obj["Size"])
                for page in self._objects(self.files_prefix(name)) for obj in page.get("Contents", ())
                if len(obj["Key"]) > start}  # not the prefix's own folder object (the S3 console makes them)

    # -- volumes -------------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        return self._head(f"{PREFIX}{name}/{MARKER}") is not None

    def created_at(self, name: str) -> datetime.datetime:
        """The marker's time: written once, when the volume was created (a rename copies it)."""
        head = self._head(f"{PREFIX}{name}/{MARKER}")
        if head is None:
            raise FileNotFoundError(f"No volume {name!r} in bucket {self.bucket} (see `toolkit volume list`).")
        return head["LastModified"].astimezone(datetime.timezone.utc)  # type: ignore[no-any-return]

    def create(self, name: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=f"{PREFIX}{name}/{MARKER}", Body=b"{}")

    def delete(self, name: str) -> bool:
        if not self.exists(name):
            return False
        self._delete_prefix(f"{PREFIX}{name}/files/")
        self.s3.delete_object(Bucket=self.bucket, Key=f"{PREFIX}{name}/{MARKER}")
        return True

    def rename(self, name: str, new_name: str) -> None:
        """Copy every object under the new prefix, then delete the old ones (S3 has no rename):
        the new volume exists, complete, before the old one goes."""
        if self.exists(new_name):
            raise VolumeError(f"Cannot rename volume {name!r} to {new_name!r}: a volume {new_name!r} exists; "
                              "delete it first or pick another name.")
        old, new = f"{PREFIX}{name}/", f"{PREFIX}{new_name}/"
        keys = [obj["Key"] for page in self._objects(old) for obj in page.get("Contents", ())]
        marker = f"{old}{MARKER}"
        for key in sorted(keys, key=lambda k: k == marker):  # the marker last: the volume appears complete
            self.s3.copy({"Bucket": self.bucket, "Key": key}, self.bucket, new + key[len(old):])
        self._delete_keys(sorted(keys, key=lambda k: k != marker))  # the old marker first: it is gone at once

    def names(self) -> list[str]:
        found = [p["Prefix"][len(PREFIX):-1] for page in self._objects(PREFIX, "/")
                 for p in page.get("CommonPrefixes", ())]
        return sorted(n for n in found if self.exists(n))

    # -- files ---------------------------------------------------------------------------------
    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self.s3.head_object(Bucket=self.bucket, Key=key)
            return head
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def file_exists(self, name: str, path: str) -> bool:
        key = self._key(name, path)
        return self._head(key) is not None or any(
            page.get("KeyCount", 0) for page in self._objects(key.rstrip("/") + "/"))

    def listdir(self, name: str, path: str, recursive: bool) -> list[FileEntry]:
        relative, start = clean_path(path), len(self.files_prefix(name))
        head = self._head(self._key(name, path)) if relative else None
        if head is not None:
            return [FileEntry(relative, FileEntryType.FILE, int(head["LastModified"].timestamp()),
                              head["ContentLength"])]
        prefix = self.files_prefix(name) + (relative + "/" if relative else "")
        entries: dict[str, FileEntry] = {}
        marked = False  # the listed directory's own marker: it exists, even if empty
        for page in self._objects(prefix, None if recursive else "/"):
            for obj in page.get("Contents", ()):
                rel = obj["Key"][start:]
                if rel.endswith("/"):  # an empty directory's marker (`commit`)
                    marked = marked or rel.rstrip("/") == relative
                    if rel.rstrip("/") != relative:
                        entries[rel.rstrip("/")] = FileEntry(rel.rstrip("/"), FileEntryType.DIRECTORY, 0, 0)
                    for parent in _parents(rel.rstrip("/"), relative) if recursive else ():
                        entries.setdefault(parent, FileEntry(parent, FileEntryType.DIRECTORY, 0, 0))
                    continue
                entries[rel] = FileEntry(rel, FileEntryType.FILE, int(obj["LastModified"].timestamp()), obj["Size"])
                for parent in _parents(rel, relative) if recursive else ():
                    entries.setdefault(parent, FileEntry(parent, FileEntryType.DIRECTORY, 0, 0))
            for common in page.get("CommonPrefixes", ()):
                rel = common["Prefix"][start:].rstrip("/")
                entries[rel] = FileEntry(rel, FileEntryType.DIRECTORY, 0, 0)
        if not entries and relative and not marked:
            raise FileNotFoundError(f"No file or directory {path!r} in volume {name!r} "
                                    f"(see `toolkit volume ls {name}`).")
        return sorted(entries.values(), key=lambda e: e.path)

    def read(self, name: str, path: str) -> Iterator[bytes]:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self._key(name, path))["Body"]
        except self.s3.exceptions.NoSuchKey:
            raise FileNotFoundError(f"No file {path!r} in volume {name!r} (see `toolkit volume ls {name}`).") from None
        return _stream(body)

    def write(self, name: str, path: str, source: BinaryIO) -> int:
        counted = _Counting(source)
        # upload_fileobj: multipart above 8 MiB, so any size streams without being held in memory
        self.s3.upload_fileobj(counted, self.bucket, self._key(name, clean_path(path, allow_root=False)))
        return counted.count

    def remove(self, name: str, path: str, recursive: bool) -> None:
        key = self._key(name, clean_path(path, allow_root=False))
        if self._head(key) is not None:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
            return
        keys = [obj["Key"] for page in self._objects(key + "/") for obj in page.get("Contents", ())]
        if not keys:
            raise FileNotFoundError(f"No file or directory {path!r} in volume {name!r} to remove.")
        if not recursive and keys != [key + "/"]:  # only its marker: an empty directory goes without recursive
            raise VolumeError(f"{path!r} in volume {name!r} is a directory that is not empty; pass recursive=True "
                              "(CLI: `toolkit volume rm -r`) to remove it all.")
        self._delete_keys(keys)

    def copy(self, name: str, source: str, destination: str, recursive: bool) -> None:
        src, dst = self._key(name, source), self._key(name, destination)
        dst_is_dir = destination.endswith("/") or self._head(dst) is None and self.file_exists(name, destination)
        if self._head(src) is not None:
            target = f"{dst.rstrip('/')}/{src.rsplit('/', 1)[-1]}" if dst_is_dir else dst
            self.s3.copy({"Bucket": self.bucket, "Key": src}, self.bucket, target)  # managed: any size
            return
        keys = [obj["Key"] for page in self._objects(src + "/") for obj in page.get("Contents", ())]
        if not keys:
            raise FileNotFoundError(f"No file or directory {source!r} in volume {name!r} to copy.")
        if not recursive:
            raise VolumeError(f"{source!r} in volume {name!r} is a directory; pass recursive=True to copy it.")
        base = f"{dst.rstrip('/')}/{src.rsplit('/', 1)[-1]}" if dst_is_dir else dst.rstrip("/")
        for key in keys:
            self.s3.copy({"Bucket": self.bucket, "Key": key}, self.bucket, base + key[len(src):])

    def _delete_prefix(self, prefix: str) -> None:
        self._delete_keys([obj["Key"] for page in self._objects(prefix) for obj in page.get("Contents", ())])

    def _delete_keys(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = [{"Key": k} for k in keys[i:i + 1000]]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    # -- the container's working copy ----------------------------------------------------------
    def working_copy(self, name: str) -> Path:
        directory = self.cache / name
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def _state_path(self, name: str) -> Path:
        return self.cache / ".sync" / f"{name}.json"

    def _load_state(self, name: str) -> SyncState:
        try:
            state: SyncState = json.loads(self._state_path(name).read_text())
            return state
        except FileNotFoundError:
            return {}

    def _save_state(self, name: str, state: SyncState) -> None:
        path = self._state_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps(state))
        os.replace(temp, path)

    def reload(self, name: str) -> None:
        """Pull what others committed since this copy's last sync."""
        directory, state, remote = self.working_copy(name), self._load_state(name), self._remote(name)
        for rel, (etag, size) in remote.items():
            known, local = state.get(rel), directory / rel
            if known is not None and known["etag"] == etag and os.path.lexists(local):
                continue  # unchanged remotely: keep the local entry (committed or edited here)
            state[rel] = self._fetch(self.files_prefix(name) + rel, local, size, etag)
        for rel in set(state) - set(remote):
            local = directory / rel
            if rel.endswith("/"):
                with contextlib.suppress(OSError):
                    local.rmdir()  # an empty directory others removed (or filled: its marker went away)
            elif os.path.lexists(local) and unchanged_since_sync(local, state[rel]):
                local.unlink()  # deleted by someone else's commit
            del state[rel]
        self._save_state(name, state)

    def commit(self, name: str) -> None:
        """Push what changed in this copy since its last sync: files, symbolic links and empty directories."""
        directory, state = self.working_copy(name), self._load_state(name)
        present = dict(sync_entries(directory))
        for rel, local in present.items():
            if rel in state and unchanged_since_sync(local, state[rel]):
                continue
            state[rel] = self._upload(local, self.files_prefix(name) + rel)
        # A directory marker goes with its directory, not when the directory gets files: a bucket's own
        # folder objects (the S3 console's) are left alone while their folder exists here.
        gone = sorted(rel for rel in set(state) - set(present) if not (rel.endswith("/") and (directory / rel).is_dir()))
        self._delete_keys([self.files_prefix(name) + rel for rel in gone])
        for rel in gone:
            del state[rel]
        self._save_state(name, state)

    def _upload(self, local: Path, key: str) -> dict[str, Any]:
        """One entry as its object: an empty directory as a zero-byte ``dir/`` marker, a symbolic link as an
        object whose body and ``toolkit-symlink-target`` metadata are its target, a file as itself."""
        if key.endswith("/"):
            return {"etag": self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"")["ETag"], "dir": True}
        if local.is_symlink():
            target = os.readlink(local)
            put = self.s3.put_object(Bucket=self.bucket, Key=key, Body=target.encode(),
                                     Metadata={SYMLINK_META: urllib.parse.quote(target)})  # metadata is ASCII only
            return {"etag": put["ETag"], "link": target}
        self.s3.upload_file(str(local), self.bucket, key)
        return _synced(local, self.s3.head_object(Bucket=self.bucket, Key=key)["ETag"])

    def _fetch(self, key: str, local: Path, size: int, etag: str) -> dict[str, Any]:
        """`_upload` reversed: the directory, link or file an object stands for, placed at ``local``."""
        if key.endswith("/"):
            local.mkdir(parents=True, exist_ok=True)
            return {"etag": etag, "dir": True}
        if size > SMALL_OBJECT:  # a link's object is never this big: a managed (multipart, resumable) download
            self._place(local, lambda temp: self.s3.download_file(self.bucket, key, temp))
            return _synced(local, etag)
        got = self.s3.get_object(Bucket=self.bucket, Key=key)  # small: its metadata comes with the body
        body = got["Body"].read()
        target = got.get("Metadata", {}).get(SYMLINK_META)
        if target is not None:
            link = urllib.parse.unquote(target)
            self._place(local, functools.partial(_relink, link))
            return {"etag": etag, "link": link}
        self._place(local, lambda temp: Path(temp).write_bytes(body))
        return _synced(local, etag)

    @staticmethod
    def _place(local: Path, write: Callable[[str], object]) -> None:
        """``write`` a temporary name beside ``local``, then rename it there: readers see old or new, never half."""
        local.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".toolkit-tmp-", dir=local.parent)
        os.close(fd)
        try:
            write(temp)
            if local.is_dir() and not local.is_symlink():
                local.rmdir()  # was an empty directory here; os.replace cannot put a file over it
            os.replace(temp, local)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def _parents(rel: str, under: str) -> list[str]:
    parts = rel.split("/")[:-1]
    parents = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return [p for p in parents if len(p) > len(under)]


def sync_entries(directory: Path, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """What a commit keeps, by path relative to the copy: files and symbolic links (never followed) as
    themselves, an empty directory as ``dir/`` (S3 keeps no directories: its marker object stands for it)."""
    with os.scandir(directory) as scan:
        children = [entry for entry in scan if not entry.name.startswith(".toolkit-tmp-")]
    if not children and prefix:
        yield prefix, directory
    for entry in children:
        if entry.is_dir(follow_symlinks=False):
            yield from sync_entries(Path(entry.path), f"{prefix}{entry.name}/")
        else:
            yield f"{prefix}{entry.name}", Path(entry.path)


def _relink(target: str, temp: str) -> None:
    os.unlink(temp)  # mkstemp's file: the link takes its (unique) name
    os.symlink(target, temp)


def _synced(local: Path, etag: str) -> dict[str, Any]:
    stat = local.stat()
    return {"etag": etag, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def unchanged_since_sync(local: Path, known: dict[str, Any]) -> bool:
    if known.get("dir"):
        return local.is_dir() and not local.is_symlink()
    if "link" in known or local.is_symlink():
        return local.is_symlink() and os.readlink(local) == known.get("link")
    stat = local.stat()
    return bool(stat.st_size == known["size"] and stat.st_mtime_ns == known["mtime_ns"])


def _stream(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()


class _Counting:
    """A read-only file wrapper that counts the bytes read through it."""

    def __init__(self, source: BinaryIO) -> None:
        self.source, self.count = source, 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.count += len(data)
        return data

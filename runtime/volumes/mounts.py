"""The container side of volumes: mount at start, commit at stop.

A function declares ``volumes={"/data": vol}``.  A container (a local worker, a Lambda, an ECS
task) mounts each one before the user's module runs its ``@enter`` hooks: it reloads the
volume's working copy and puts a symbolic link at the path the user wrote, pointing at it.
When the container stops it commits every mounted volume (the platform's automatic commit).

Why a link: locally the working copy is the volume's own directory under ``$TOOLKIT_HOME``, so a
link gives every worker the user's path without copying; on AWS the copy lives under ``/tmp``
(the only writable place in a Lambda) and the link sits at the user's path where the image
allows it.  Where the path cannot be made (no permission, or something else is already there),
`MountError` names the path and the fix.

Front door (``runtime.FRONT_DOORS``): the SDK imports `mount` / `commit_all`, which local workers
run as containers do; `__all__` is what it offers.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from runtime.volumes.base import VolumeError, VolumeStore

if TYPE_CHECKING:
    from runtime.environment import ContainerEnv
    from runtime.manifest import BucketMount, FunctionEntry
    from runtime.volumes.buckets import BucketCopy

__all__ = ["STAGING", "SYNC_EVERY_S", "MountError", "bucket_paths", "commit_all", "link", "mount", "mount_buckets",
           "mount_deployed", "mounted", "needs_commit", "staged", "start_periodic_sync", "sync_buckets", "unmount_all"]

# A Lambda's image filesystem is read-only but for /tmp: the image toolkit builds links each mount
# path to ``staged(path)`` (toolkit/images/containerfile.py), and the container links that to the copy.
STAGING = "/tmp/toolkit-mounts"  # noqa: S108

_lock = threading.Lock()
_mounted: dict[str, tuple[VolumeStore, str, bool]] = {}  # mount path -> (store, volume name, read only)
_buckets: dict[str, BucketCopy] = {}  # mount path -> the synced copy of a CloudBucketMount
_periodic: list[threading.Event] = []  # stop events of the `start_periodic_sync` threads
SYNC_EVERY_S = 30.0  # a deployed ECS task's bucket sync period (TOOLKIT_BUCKET_SYNC_S): ~2,900 LISTs a day per mount


class MountError(VolumeError):
    """A volume cannot appear at the path the function asked for."""


def mount(store: VolumeStore, mounts: Iterable[tuple[str, str, bool, bool]], *, isolate: bool = False) -> None:
    """Mount each ``(path, volume name, create_if_missing, read_only)``: reload the working copy,
    then link it at ``path``.  A missing volume is created only if its handle said
    ``create_if_missing``; a read-only mount is never committed (deployed, the function's role may
    not write the volume's objects either).  ``isolate`` (a container process: a local worker, a
    deployed task) also makes a read-only mount refuse writes on disk (`runtime.volumes.readonly`)."""
    for path, name, create, read_only in mounts:
        if create and not store.exists(name):
            store.create(name)
        elif not store.exists(name):
            raise MountError(f"The function mounts volume {name!r} at {path}, but no such volume exists in the "
                             f"{store.kind} store; create it with `toolkit volume create {name}` or "
                             f"toolkit.Volume.from_name({name!r}, create_if_missing=True).")
        store.reload(name)
        directory = store.working_copy(name)
        link(path, _read_only(directory, f"volume {name!r}", path, store.kind) if read_only and isolate else directory)
        with _lock:
            _mounted[path] = (store, name, read_only)


def _read_only(directory: Path, what: str, path: str, kind: str) -> Path:
    """The read-only view of ``directory`` to link at ``path``, or ``directory`` itself where the kernel
    cannot enforce it; then a live local volume would take the writes, so that is said once, at mount."""
    from runtime.volumes.readonly import read_only_view, unavailable_reason

    view = read_only_view(directory)
    if view is not None:
        return view
    if kind == "local":
        print(f"toolkit: {what} is mounted read-only at {path}, but this machine cannot refuse writes there "
              f"({unavailable_reason()}): a write under {path} changes the volume for everyone. Write elsewhere, "
              "or run on Linux with user namespaces enabled.", file=sys.stderr, flush=True)
    return directory


def mount_buckets(mounts: Iterable[BucketMount], cache_root: str | Path,
                  credentials: Callable[[BucketMount], Mapping[str, str]], *, isolate: bool = False) -> None:
    """Mount each CloudBucketMount: download its objects into its copy under ``cache_root``, link the
    copy at its path.  ``credentials(mount)``: its secret's values ({} for the process's own).
    ``isolate``: a ``read_only`` mount refuses writes on disk where the kernel allows (as `mount`)."""
    from runtime.volumes.buckets import BucketCopy, copy_directory, s3_client

    for bucket in mounts:
        copy = BucketCopy(bucket, copy_directory(cache_root, bucket), s3_client(bucket, credentials(bucket)))
        copy.pull()
        readonly = bucket.read_only and isolate
        link(bucket.path, _read_only(copy.directory, repr(copy), bucket.path, copy.kind) if readonly else copy.directory)
        with _lock:
            _buckets[bucket.path] = copy


def bucket_paths() -> list[str]:
    """Where this process has CloudBucketMounts: something must sync them after each input."""
    with _lock:
        return sorted(_buckets)


def mount_deployed(entry: FunctionEntry, env: ContainerEnv) -> None:
    """A deployed container's start: mount the function's volumes from the app's volume bucket and its
    CloudBucketMounts from their buckets, and commit them when the process exits (ECS stops a task
    with SIGTERM, then exit).  A Lambda may be frozen and discarded without notice, so its handler
    also commits after every invocation (`commit_all`: a directory walk when nothing changed).  An ECS
    task (a service's requests never end an invocation; a worker's call may run for hours) also syncs its
    bucket mounts every ``TOOLKIT_BUCKET_SYNC_S`` (`SYNC_EVERY_S` by default)."""
    if entry.bucket_mounts:
        from runtime.volumes.buckets import DEFAULT_CACHE

        mount_buckets(entry.bucket_mounts, DEFAULT_CACHE, lambda bucket: _deployed_credentials(bucket, env),
                      isolate=True)
        if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # set by Lambda: its handler syncs per invocation
            start_periodic_sync(env.bucket_sync_s or SYNC_EVERY_S)
    if entry.volumes:
        _mount_deployed_volumes(entry, env)
    if entry.volumes or entry.bucket_mounts:
        atexit.register(commit_all)


def _mount_deployed_volumes(entry: FunctionEntry, env: ContainerEnv) -> None:
    volumes = [m for m in entry.volumes if not os.path.ismount(staged(m.path))]
    if not volumes:  # every one bound at its staging path by the engine (`toolkit serve --containers`): live
        return
    if not env.volume_bucket:
        from runtime.environment import ContainerEnv as Env

        raise MountError(f"{entry.tag} mounts volumes ({', '.join(m.name for m in volumes)}) but "
                         f"{Env.name('volume_bucket')} is not set in its environment; redeploy with `toolkit deploy` "
                         "(infra sets it on every function that mounts a volume).")
    from runtime.volumes.s3 import S3VolumeStore

    mount(S3VolumeStore(env.volume_bucket),
          [(m.path, m.name, m.create_if_missing, m.read_only) for m in volumes], isolate=True)


def _deployed_credentials(bucket: BucketMount, env: ContainerEnv) -> dict[str, str]:
    """A bucket mount's secret from Secrets Manager (infra passes its ARN by name); {} without a secret:
    the function's role, which the deploy granted this bucket and prefix."""
    if bucket.secret is None:
        return {}
    import json

    from runtime.secrets import read_secret

    arns = json.loads(env.bucket_secret_arns or "{}")
    if bucket.secret not in arns:
        from runtime.environment import ContainerEnv as Env

        raise MountError(f"The CloudBucketMount at {bucket.path} uses secret {bucket.secret!r}, but "
                         f"{Env.name('bucket_secret_arns')} does not name it; redeploy with `toolkit deploy` (after "
                         f"`toolkit secret create {bucket.secret} --target aws`).")
    return read_secret(arns[bucket.secret])


def mounted(name: str, *, writable: bool = False) -> list[tuple[str, VolumeStore]]:
    """Where this process has volume ``name`` mounted (``writable``: not read-only), with its store."""
    with _lock:
        return [(path, store) for path, (store, n, read_only) in _mounted.items()
                if n == name and not (writable and read_only)]


def commit_all() -> None:
    """Commit every volume mounted writable (a container stopping); each once, even if mounted twice.
    Then sync the bucket mounts (`sync_buckets`)."""
    with _lock:
        volumes = {(id(store), name): (store, name) for store, name, read_only in _mounted.values() if not read_only}
    for store, name in volumes.values():
        store.commit(name)
    sync_buckets()


def needs_commit() -> bool:
    """Whether `commit_all` has anything to move (a bucket mount, or a writable volume whose store is not
    the live local one): callers on an event loop run it on a thread only then."""
    with _lock:
        return bool(_buckets) or any(store.kind != "local" and not read_only for store, _, read_only in _mounted.values())


def start_periodic_sync(every_s: float) -> threading.Event:
    """Sync the bucket mounts every ``every_s`` seconds on a daemon thread, for processes where no invocation
    ends to sync after (an ECS service, a local ``web_server``, a long ECS worker); a stop syncs once more
    (`commit_all` at exit).  Set the returned event to stop the thread."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            sync_buckets()

    threading.Thread(target=loop, daemon=True, name="toolkit-bucket-sync").start()
    with _lock:
        _periodic.append(stop)
    return stop


def sync_buckets() -> None:
    """Upload what changed in every bucket mount's copy (unless read-only), then download others' changes;
    a failure is printed and retried at the next sync (the call's reply must not be lost to it)."""
    with _lock:
        buckets = list(_buckets.values())
    for copy in buckets:
        try:
            copy.sync()  # upload this invocation's changes (unless read-only), then see others'
        except Exception as exc:  # noqa: BLE001 - one bucket's failure must not lose the call's reply
            print(f"toolkit: could not sync {copy!r}: {type(exc).__name__}: {exc}; its changes stay in the "
                  "container's copy and are retried at the next sync (the next invocation's end, or period).",
                  file=sys.stderr, flush=True)


def unmount_all() -> None:
    with _lock:
        for stop in _periodic:
            stop.set()
        _periodic.clear()
    commit_all()
    with _lock:
        _mounted.clear()
        _buckets.clear()


def staged(path: str) -> str:
    """Where the image's link at mount ``path`` points: ``/data`` -> ``/tmp/toolkit-mounts/data``."""
    return STAGING + str(PurePosixPath(path))


def link(path: str, target: Path) -> None:
    """Make ``path`` a symbolic link to ``target``; an existing link to elsewhere is replaced
    (a previous container's), anything else is left alone and reported.  Where the image already
    links ``path`` to `staged` (a read-only image), the staged link is the one made."""
    where = Path(path)
    if not where.is_absolute():
        raise MountError(f"Volume mount path {path!r} must be absolute, e.g. '/data'.")
    if where.is_symlink() and os.readlink(where) == staged(path):
        where = Path(staged(path))
    if where.is_symlink() and os.readlink(where) == str(target):
        return
    if where.exists() and not where.is_symlink():
        if where.is_dir() and not any(where.iterdir()):
            _rmdir_or_explain(where, target)
        else:
            raise MountError(f"Cannot mount a volume at {path}: it already exists and is not empty. Choose another "
                             f"mount path in volumes={{...}}, or move {path} away.")
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        temp = where.with_name(f".{where.name}.toolkit-link-{os.getpid()}-{threading.get_ident()}")
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        temp.symlink_to(target, target_is_directory=True)
        os.replace(temp, where)  # atomic: a concurrent worker sees the old link or the new one
    except OSError as exc:
        raise MountError(_cannot_link(path, target, exc)) from None


def _rmdir_or_explain(where: Path, target: Path) -> None:
    try:
        where.rmdir()  # an empty directory left for the mount (e.g. created by an image step)
    except OSError as exc:
        raise MountError(_cannot_link(str(where), target, exc)) from None


def _cannot_link(path: str, target: Path, exc: OSError) -> str:
    return (f"Cannot mount a volume at {path}: {exc.strerror or exc}. This machine does not let toolkit create "
            f"that path. Either create the link once yourself: `sudo ln -sfn {target} {path}` "
            f"(then it is reused), or mount the volume under a directory you own (e.g. volumes={{'/tmp/data': vol}} "
            "or a path under your home).")

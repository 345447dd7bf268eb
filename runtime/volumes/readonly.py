"""Read-only mounts the kernel enforces: a read-only bind of the volume's directory, private to one process.

``volumes={"/w": vol.read_only()}`` (and ``CloudBucketMount(read_only=True)``) must refuse writes on
disk, as the platform's read-only mount does, not only skip the commit.  A mode-bit copy would not
do (root, and most containers, ignore mode bits; copying gigabytes of weights per worker costs
more than the mount), so a container process that asks (`isolate`) moves into a mount namespace
of its own (``unshare(CLONE_NEWNS)``, plus ``CLONE_NEWUSER`` when not root: rootless on any Linux
that allows unprivileged user namespaces), makes every mount there private (nothing propagates
back to the host), and bind-mounts the volume's directory read-only on an empty *view* directory
beside it.  The mount path links to that view: this process and its children get ``EROFS``
(``OSError: [Errno 30] Read-only file system``) on any write, while toolkit's own sync still
writes the real directory (a bucket copy pulls others' changes).  Outside that namespace the view
is an empty directory.

Where the kernel says no (macOS, a Fargate task or a Lambda without ``CAP_SYS_ADMIN``, user
namespaces disabled, a process already running threads when not root) `read_only_view` returns
``None`` with the reason in `unavailable_reason`, and callers fall back to a plain link (the mount
is then read-only only in that nothing is committed from it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from pathlib import Path

__all__ = ["read_only_view", "unavailable_reason", "view_directory"]

_CLONE_NEWNS, _CLONE_NEWUSER = 0x00020000, 0x10000000
_MS_RDONLY, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 0x1, 0x20, 0x1000, 0x4000, 0x40000

_lock = threading.Lock()
_state: dict[str, str | bool] = {}  # "isolated": True once this process has its own mount namespace; "reason"


def view_directory(directory: Path) -> Path:
    """The empty directory beside ``directory`` that its read-only bind covers (dot-named: never listed
    as a volume or a file)."""
    return directory.parent / f".{directory.name}.read-only"


def read_only_view(directory: Path) -> Path | None:
    """``directory`` read-only at `view_directory` in this process's own mount namespace (made on the
    first call); ``None`` where the kernel does not allow it (`unavailable_reason` says why)."""
    with _lock:
        if not _isolated():
            return None
        view = view_directory(directory)
        view.mkdir(parents=True, exist_ok=True)
        try:
            _mount(str(directory), str(view), _MS_BIND)
            _mount(None, str(view), _MS_BIND | _MS_REMOUNT | _MS_RDONLY)
        except OSError as exc:
            _state["reason"] = f"a read-only bind of {directory} failed: {exc.strerror or exc}"
            return None
        return view


def unavailable_reason() -> str:
    """Why the last `read_only_view` returned ``None`` ("" if it did not)."""
    return str(_state.get("reason", ""))


def _isolated() -> bool:
    """Enter a private mount namespace once per process; False (and the reason kept) if the kernel refuses."""
    if "isolated" not in _state:
        try:
            _unshare()
            _state["isolated"] = True
        except OSError as exc:
            _state["isolated"] = False
            _state["reason"] = f"no private mount namespace here ({exc.strerror or exc})"
    return bool(_state["isolated"])


def _unshare() -> None:
    libc = _libc()
    if not hasattr(libc, "unshare"):
        raise OSError(0, "this system has no unshare(2): not Linux")
    root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()
    # Why CLONE_NEWUSER only without root: it is what lets an unprivileged process own a mount
    # namespace, but it also hides other users' ids (setuid tools stop working) -- root needs none of it.
    if libc.unshare(_CLONE_NEWNS if root else _CLONE_NEWNS | _CLONE_NEWUSER) != 0:
        raise _errno_error()
    if not root:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    _mount(None, "/", _MS_REC | _MS_PRIVATE)  # our binds must never propagate to the host's namespace


def _mount(source: str | None, target: str, flags: int) -> None:
    if _libc().mount(source and source.encode(), target.encode(), None, flags, None) != 0:
        raise _errno_error()


def _errno_error() -> OSError:
    code = ctypes.get_errno()
    return OSError(code, os.strerror(code))


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)

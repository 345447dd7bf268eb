"""``snapshot_directory`` / ``mount_image`` / ``unmount_image`` of a local sandbox, through the engine.

The platform snapshots one directory into an Image and mounts Images at a path of a running
sandbox.  A container cannot take a new mount while it runs without privileges toolkit will not
give it, so locally a mount is a **copy**:

- ``snapshot_directory(path)``: ``tar`` of the directory inside the sandbox, imported as an image
  (``<engine> import``) whose root is the directory's contents;
- ``mount_image(path, image)``: what was at ``path`` is moved aside (to `HOLD` inside the sandbox),
  and the image's files (``<engine> create`` + ``export``) are unpacked at ``path``;
- ``unmount_image(path)``: ``path`` is removed and what was there before comes back.

Like the platform's mount, writes under the mount point are discarded by ``unmount_image``.  What
differs: mounting costs a copy of the image's files (a directory snapshot is small; a whole OS image
is not), and other processes in the sandbox see the files appear at once rather than atomically.
Mount points are recorded in the sandbox's directory (``mounts.json``), so any process's handle
can unmount.  The sandbox needs ``sh``, ``tar`` and ``mv`` (coreutils or busybox).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path, PurePosixPath

from toolkit.exception import InvalidError

__all__ = ["HOLD", "mount", "mount_points", "snapshot_directory", "unmount"]

HOLD = "/.toolkit-mounts"  # inside the sandbox: what a mount point held before, until unmount
COPY_TIMEOUT_S = 600
_MOUNT = ('set -e; p="$1"; held="$2"; mkdir -p "$(dirname "$held")"; '
          'if [ -e "$held" ]; then rm -rf "$p"; elif [ -e "$p" ]; then mv "$p" "$held"; fi; '
          'mkdir -p "$p"; tar -C "$p" -xf -')
_UNMOUNT = 'set -e; p="$1"; held="$2"; rm -rf "$p"; if [ -e "$held" ]; then mv "$held" "$p"; fi'


def checked_path(what: str, path: PurePosixPath | str) -> str:
    text = str(path)
    if not text.startswith("/") or PurePosixPath(text) == PurePosixPath("/") or ".." in PurePosixPath(text).parts:
        raise InvalidError(f"{what}: path {text!r} must be an absolute directory other than '/', "
                           "e.g. '/workspace'.")
    return str(PurePosixPath(text))


def _held(path: str) -> str:
    return f"{HOLD}/{hashlib.sha256(path.encode()).hexdigest()[:16]}"


def _failed(what: str, path: str, done: subprocess.CompletedProcess[bytes]) -> InvalidError:
    detail = (done.stderr.decode(errors="replace").strip().splitlines() or [f"exit {done.returncode}"])[-1]
    return InvalidError(f"{what}({path!r}) failed in the sandbox ({detail}); give an existing directory, and an "
                        "image with sh and tar.")


def snapshot_directory(engine: str, container: str, sandbox_id: str, path: str) -> str:
    """An image whose root holds ``path``'s contents now; its local reference."""
    tar = subprocess.run([engine, "exec", container, "tar", "-C", path, "-cf", "-", "."], capture_output=True,
                         timeout=COPY_TIMEOUT_S)
    if tar.returncode != 0:
        raise _failed("Sandbox.snapshot_directory", path, tar)
    ref = f"localhost/toolkit/sandbox-directory:{sandbox_id}-{int(time.time() * 1000)}"
    done = subprocess.run([engine, "import", "-", ref], input=tar.stdout, capture_output=True, timeout=COPY_TIMEOUT_S)
    if done.returncode != 0:
        raise _failed("Sandbox.snapshot_directory", path, done)
    return ref


def _export(engine: str, ref: str) -> bytes:
    """The image's files as a tar (an image from ``import`` has no command: the one given is never run)."""
    created = subprocess.run([engine, "create", ref, "/toolkit-never-run"], capture_output=True, text=True,
                             timeout=COPY_TIMEOUT_S)
    if created.returncode != 0:
        raise InvalidError(f"Sandbox.mount_image: {engine} cannot open image {ref!r} ({created.stderr.strip()}); "
                           "pass an image that exists locally.")
    container = created.stdout.strip()
    try:
        return subprocess.run([engine, "export", container], capture_output=True, check=True,
                              timeout=COPY_TIMEOUT_S).stdout
    finally:
        subprocess.run([engine, "rm", "--force", container], capture_output=True, timeout=60)


def mount(engine: str, container: str, directory: Path, path: str, ref: str) -> None:
    files = _export(engine, ref)
    done = subprocess.run([engine, "exec", "-i", container, "sh", "-c", _MOUNT, "mount", path, _held(path)],
                          input=files, capture_output=True, timeout=COPY_TIMEOUT_S)
    if done.returncode != 0:
        raise _failed("Sandbox.mount_image", path, done)
    _save(directory, sorted({*mount_points(directory), path}))


def unmount(engine: str, container: str, directory: Path, path: str) -> None:
    points = mount_points(directory)
    if path not in points:
        raise InvalidError(f"Sandbox.unmount_image({path!r}): nothing is mounted there; mounted: "
                           f"{', '.join(points) or 'none'}. Pass the exact path given to mount_image.")
    done = subprocess.run([engine, "exec", container, "sh", "-c", _UNMOUNT, "unmount", path, _held(path)],
                          capture_output=True, timeout=COPY_TIMEOUT_S)
    if done.returncode != 0:
        raise _failed("Sandbox.unmount_image", path, done)
    _save(directory, [p for p in points if p != path])


def mount_points(directory: Path) -> list[str]:
    try:
        data = json.loads((directory / "mounts.json").read_text())
    except FileNotFoundError:
        return []
    return [str(p) for p in data["points"]]


def _save(directory: Path, points: list[str]) -> None:
    from toolkit.sandboxes.records import write_json

    write_json(directory / "mounts.json", {"points": points})

"""``add_local_file``/``add_local_dir`` for local workers: the image's remote paths, mirrored.

A local worker cannot have ``/srv/data.csv`` without writing outside the user's reach (``/`` is
not theirs to change), so each image gets a *files root* under ``$TOOLKIT_HOME/files/<hash>``
whose tree mirrors the remote paths with symbolic links to the local sources:
``<root>/srv/data.csv -> ./data.csv``.  Workers of an image that sets ``workdir("/srv")`` run with
their working directory at ``<root>/srv``, so the relative paths that work in the container
(``open("data.csv")``) work locally too.  Links, not copies: an edit to a local file is seen at
once, as the container sees its copy after a rebuild.  docs/images.md states the equivalence.

A directory is one link to the local directory; its ``ignore`` patterns are not applied
locally.  A file added *inside* a linked directory would have to be written into the user's own
directory, so it is refused with the paths and the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from toolkit.images.errors import ImageError, MissingLocalPathError

FILE_OPS = frozenset({"add_local_file", "add_local_dir"})
INDEX = ".toolkit-files.json"


@dataclass(frozen=True)
class LocalFiles:
    root: Path
    cwd: Path | None  # the image's workdir under ``root``; None: the worker's directory is unchanged


def mirror_files(spec: Mapping[str, Any], project: Path, home: Path) -> LocalFiles | None:
    """Link the image's added files under its files root (rebuilt only when the links change)."""
    steps: Sequence[Mapping[str, Any]] = spec.get("steps") or []
    links = _links(steps, project)
    workdirs = [s["path"] for s in steps if s.get("op") == "workdir"]
    if not links and not workdirs:
        return None
    root = home / "files" / hashlib.sha256(json.dumps(links, sort_keys=True).encode()).hexdigest()[:24]
    if not (root / INDEX).is_file():
        _build(root, links)
    cwd = None
    if workdirs:
        cwd = root / workdirs[-1].lstrip("/")
        cwd.mkdir(parents=True, exist_ok=True)
    return LocalFiles(root, cwd)


def _links(steps: Sequence[Mapping[str, Any]], project: Path) -> list[tuple[str, str]]:
    """(remote path, absolute local source) per added file or directory, checked."""
    links: list[tuple[str, str]] = []
    for step in steps:
        if step.get("op") not in FILE_OPS:
            continue
        local = (project / step["local_path"]).resolve()
        kind = "file" if step["op"] == "add_local_file" else "directory"
        if not (local.is_file() if kind == "file" else local.is_dir()):
            raise MissingLocalPathError(f"{step['op']}({step['local_path']!r}): no such {kind} {str(local)!r}; fix "
                                        "the path (relative paths are read from the directory you run toolkit in).")
        remote = str(PurePosixPath(step["remote_path"]))
        _check_not_inside(remote, links, step)
        links.append((remote, str(local)))
    return links


def _check_not_inside(remote: str, links: Sequence[tuple[str, str]], step: Mapping[str, Any]) -> None:
    for earlier, source in links:
        if remote.startswith(earlier.rstrip("/") + "/") and Path(source).is_dir():
            raise ImageError(f"{step['op']}(..., {step['remote_path']!r}) lands inside the directory added at "
                             f"{earlier!r}; local workers see that directory as a link to {source!r}, so toolkit "
                             "would have to write into it. Add the file at a path outside it, put it in that "
                             "local directory, or use toolkit serve --containers.")


def _build(root: Path, links: Sequence[tuple[str, str]]) -> None:
    staging = root.with_name(f"{root.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    for remote, source in links:
        link = staging / remote.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()  # a later step replaces an earlier one at the same path, as COPY does
        link.symlink_to(source)
    staging.mkdir(parents=True, exist_ok=True)
    (staging / INDEX).write_text(json.dumps(links) + "\n")
    try:
        staging.rename(root)
    except OSError:  # another process finished the same tree first: theirs is identical
        shutil.rmtree(staging, ignore_errors=True)

"""How the local workers of each function start: which Python, from which directory.

`toolkit serve` and `toolkit run` assign, per function, the interpreter of its image's local
environment (`toolkit.images.local_env`) and the working directory that mirrors the image's
workdir (`toolkit.images.local_files`); the worker launchers (`toolkit.local.pool`,
`toolkit.serve.workers`) ask here.  Kept tiny and free of imports beyond the standard library
and `toolkit.image`: the launchers import it on every start.
"""

from __future__ import annotations

import os
import site
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from toolkit.image import IMAGE_ENV

if TYPE_CHECKING:
    from toolkit.local.protocol import WorkerTarget


@dataclass(frozen=True)
class Launch:
    python: str = sys.executable
    image_hash: str | None = None  # set: ``python`` is that image's own environment
    cwd: str | None = None         # None: the launcher's own working directory


_BY_FUNCTION: dict[tuple[str, str], Launch] = {}  # (app name, function tag) -> how its workers start


def use(assignments: dict[tuple[str, str], Launch]) -> None:
    """Replace every assignment at once, so a worker starting during a reload sees the old set or
    the new one, never a half-built one (an install failure leaves the old set in place)."""
    global _BY_FUNCTION
    _BY_FUNCTION = dict(assignments)


def worker_launch(target: WorkerTarget) -> tuple[str, WorkerTarget, dict[str, str], str | None]:
    """(interpreter, target, extra environment, working directory) for a new worker.  In an
    image's environment the host's own site-packages are left off the worker's ``sys.path`` (the
    image's packages must win), and ``TOOLKIT_IMAGE_HASH`` makes ``image.imports()`` real, as
    inside the image."""
    launch = _BY_FUNCTION.get((target.app_name, target.tag), Launch())
    if launch.image_hash is None:
        return launch.python, target, {}, launch.cwd
    local_path = tuple(p for p in target.sys_path if not _host_installed(p))
    return launch.python, replace(target, sys_path=local_path), {IMAGE_ENV: launch.image_hash}, launch.cwd


def _host_installed(path: str) -> bool:
    """Whether ``path`` is part of the current interpreter's installation (stdlib, site-packages)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), site.getusersitepackages()}
    real = os.path.realpath(path)
    return any(real == os.path.realpath(r) or real.startswith(os.path.realpath(r) + os.sep) for r in roots if r)

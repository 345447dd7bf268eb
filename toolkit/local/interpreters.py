"""How the local workers of each function start: which Python, from which directory.

`toolkit serve` and `toolkit run` assign, per function, the interpreter of its image's local
environment (`toolkit.images.local_env`) and the working directory that mirrors the image's
workdir (`toolkit.images.local_files`); the worker launchers (`toolkit.local.pool`,
`toolkit.serve.workers`) ask here.  Kept tiny and free of imports beyond the standard library
and `toolkit.image`: the launchers import it on every start.

The assignments travel to the workers in ``TOOLKIT_LOCAL_LAUNCHES``: a worker that calls another
function (a web endpoint's ``.spawn``, a function's ``.remote``) starts that function's workers
itself, and they must run in the callee's image environment, not the caller's.
"""

from __future__ import annotations

import json
import os
import site
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

from toolkit.image import IMAGE_ENV

if TYPE_CHECKING:
    from toolkit.local.protocol import WorkerTarget


@dataclass(frozen=True)
class Launch:
    python: str = sys.executable
    image_hash: str | None = None  # set: ``python`` is that image's own environment
    cwd: str | None = None         # None: the launcher's own working directory
    env: Mapping[str, str] = field(default_factory=dict)  # the image's Image.env variables


LAUNCHES_ENV = "TOOLKIT_LOCAL_LAUNCHES"  # the assignments, inherited by workers (nested calls)


def _inherited() -> tuple[dict[tuple[str, str], Launch], Launch]:
    """The assignments and the default launch a parent process handed down, if any: in a worker
    running in an image's environment ``sys.executable`` is that image's Python, not the default."""
    raw = json.loads(os.environ.get(LAUNCHES_ENV) or "{}")
    by_function = {(app, tag): Launch(**launch) for app, tag, launch in raw.get("functions", [])}
    return by_function, Launch(**raw["default"]) if "default" in raw else Launch()


_BY_FUNCTION, _DEFAULT = _inherited()  # (app name, function tag) -> how its workers start; the rest


def use(assignments: dict[tuple[str, str], Launch]) -> None:
    """Replace every assignment at once, so a worker starting during a reload sees the old set or
    the new one, never a half-built one (an install failure leaves the old set in place)."""
    global _BY_FUNCTION
    _BY_FUNCTION = dict(assignments)
    os.environ[LAUNCHES_ENV] = json.dumps({
        "default": asdict(_DEFAULT),
        "functions": [[app, tag, {**asdict(launch), "env": dict(launch.env)}] for (app, tag), launch in assignments.items()],
    })


def worker_launch(target: WorkerTarget) -> tuple[str, WorkerTarget, dict[str, str], str | None]:
    """(interpreter, target, extra environment, working directory) for a new worker: the extra
    environment is the image's ``Image.env`` variables (below the function's secrets).  In an
    image's environment the host's own site-packages are left off the worker's ``sys.path`` (the
    image's packages must win), and ``TOOLKIT_IMAGE_HASH`` makes ``image.imports()`` real, as
    inside the image."""
    launch = _BY_FUNCTION.get((target.app_name, target.tag), _DEFAULT)
    if launch.image_hash is None:
        return launch.python, target, dict(launch.env), launch.cwd
    local_path = tuple(p for p in target.sys_path if not _host_installed(p))
    return launch.python, replace(target, sys_path=local_path), {**launch.env, IMAGE_ENV: launch.image_hash}, launch.cwd


def _host_installed(path: str) -> bool:
    """Whether ``path`` is part of the current interpreter's installation (stdlib, site-packages)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), site.getusersitepackages()}
    real = os.path.realpath(path)
    return any(real == os.path.realpath(r) or real.startswith(os.path.realpath(r) + os.sep) for r in roots if r)

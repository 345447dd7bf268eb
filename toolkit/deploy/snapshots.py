"""What ``toolkit plan`` and ``toolkit deploy`` say of memory snapshots (``enable_memory_snapshot=True``,
``@enter(snap=True)``): asked for, not applied, one line per function.

AWS Lambda SnapStart supports container-image functions only when the image's runtime client
implements SnapStart's snapshot/restore lifecycle (or uses AWS's own Python 3.12+ base image); toolkit's
images run their own runtime client on their own base, which does not, so no function is published
with SnapStart, and ECS/GPU tasks have no memory snapshots at all.  What does hold is the order: the
``snap=True`` hooks run first, at every cold start.
"""

from __future__ import annotations

from typing import Any

__all__ = ["snapshot_lines"]


def snapshot_lines(app: Any) -> list[str]:
    """One line per function of ``app`` (a `toolkit.App`) that asked for a memory snapshot."""
    return [_line(fn.spec) for tag, fn in sorted(app.registered_functions.items()) if _asked(fn.spec)]


def _asked(spec: Any) -> bool:
    return bool(spec.memory_snapshot or (spec.cls is not None and spec.cls.snap_methods))


def _line(spec: Any) -> str:
    where = ("SnapStart is not applied to toolkit's container-image Lambda functions (their runtime client does "
             "not implement SnapStart's snapshot/restore lifecycle)" if spec.backend == "lambda"
             else f"{spec.backend.upper()} tasks take no memory snapshots")
    hooks = spec.cls.snap_methods if spec.cls is not None else ()
    order = (f"its @enter(snap=True) hooks ({', '.join(hooks)}) still run first, at each cold start" if hooks
             else "@enter(snap=True) hooks still run first, at each cold start")
    return f"memory snapshot {spec.tag}: not taken: {where}; {order}"

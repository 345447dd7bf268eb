"""Find the failing step in a build log, for podman/buildah and docker/BuildKit output.

podman prints ``STEP 4/12: RUN ...`` before each step; BuildKit (``--progress=plain``)
prefixes every line of a step with ``#N`` and announces it as ``#N [3/9] RUN ...``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

TAIL_LINES = 40
_PODMAN_STEP = re.compile(r"^STEP \d+/\d+: (.*)$")
_KIT_STEP = re.compile(r"^#(\d+) \[[^\]]*\d+/\d+\] (.*)$")
_KIT_ERROR = re.compile(r"^#(\d+) ERROR: ")


def failing_step(lines: Sequence[str]) -> tuple[str | None, str]:
    """(the instruction that failed or None, the output that explains it)."""
    kit = _buildkit_failure(lines)
    if kit is not None:
        return kit
    return _podman_failure(lines)


def _podman_failure(lines: Sequence[str]) -> tuple[str | None, str]:
    step, start = None, 0
    for i, line in enumerate(lines):
        match = _PODMAN_STEP.match(line)
        if match:
            step, start = match.group(1), i + 1
    return step, _tail(lines[start:])


def _buildkit_failure(lines: Sequence[str]) -> tuple[str | None, str] | None:
    failed = next((m.group(1) for line in lines if (m := _KIT_ERROR.match(line))), None)
    if failed is None:
        return None
    steps = {m.group(1): m.group(2) for line in lines if (m := _KIT_STEP.match(line))}
    own = [line[len(failed) + 2:] for line in lines if line.startswith(f"#{failed} ")]
    errors = [line for line in lines if line.startswith("ERROR")]
    return steps.get(failed), _tail(own + errors)


def _tail(lines: Sequence[str]) -> str:
    return "\n".join(lines[-TAIL_LINES:])

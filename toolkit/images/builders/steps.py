"""The steps a build announces, for progress displays (`toolkit.progress`): podman prints
``STEP 4/12: RUN ...`` before each step; BuildKit (``--progress=plain``) ``#7 [3/9] RUN ...``."""

from __future__ import annotations

import re

from toolkit.progress import Step

_PODMAN = re.compile(r"^STEP (\d+)/(\d+): (.*)$")
_BUILDKIT = re.compile(r"^#\d+ \[(?:[^\]]* )?(\d+)/(\d+)\] (.*)$")


def build_step(line: str) -> Step | None:
    """The step ``line`` announces, or None (a line of a step's output)."""
    match = _PODMAN.match(line) or _BUILDKIT.match(line)
    if match is None:
        return None
    return Step(int(match.group(1)), int(match.group(2)), match.group(3))

"""Which runner executes ``.remote()`` and friends: local worker pools by default.

The cloud runner (calls to a deployed app through AWS) plugs in here later; user code
does not change.
"""

from __future__ import annotations

from typing import Any


def current_runner() -> Any:
    from toolkit.local.runner import local_runner

    return local_runner()

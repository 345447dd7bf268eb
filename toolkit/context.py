"""Where this code is running: the process that drives an app, or inside one of its containers.

A local worker process stands in for a container, so code in a function sees the same answer
under ``toolkit serve``/``toolkit run`` as on AWS.
"""

from __future__ import annotations

import os

from toolkit.runner import in_deployment

WORKER_ENV = "TOOLKIT_WORKER_FD"  # set by the local pool for every worker process (toolkit.local.pool)


def is_local() -> bool:
    """True where the app is driven from (a script, ``toolkit run``/``serve``); False inside a function."""
    return not (os.environ.get(WORKER_ENV) or in_deployment())

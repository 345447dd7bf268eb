"""What a container says about itself through the variables the platform documents as set in every
container that runs a function: ``MODAL_TASK_ID`` (this container), ``MODAL_IS_REMOTE``,
``MODAL_ENVIRONMENT`` and, where known, ``MODAL_REGION``.

Programs written for the platform read them (a server naming its replica by ``MODAL_TASK_ID``), so
a deployed container sets them before the user's module is imported (`runtime.userapp`), and a
local worker as it starts (``toolkit.context.enter_container``).  Stdlib only.

Front door (``runtime.FRONT_DOORS``): the SDK's local workers call `enter_container`.
"""

from __future__ import annotations

import os
import secrets

__all__ = ["DEFAULT_ENVIRONMENT", "enter_container"]

DEFAULT_ENVIRONMENT = "main"  # the platform's name for a workspace's default environment


def enter_container(environment: str | None, region: str | None = None) -> None:
    """Set the variables for this process and what it starts.  Assigned, not defaulted: a container's
    own workers (or a local worker's) must not inherit its task id."""
    os.environ["MODAL_TASK_ID"] = "ta-" + secrets.token_hex(12)
    os.environ["MODAL_IS_REMOTE"] = "1"
    os.environ["MODAL_ENVIRONMENT"] = environment or DEFAULT_ENVIRONMENT
    if region:
        os.environ["MODAL_REGION"] = region

"""Where a function's or a call's dashboard page is: the local ``toolkit serve`` dashboard of its
app, or, inside a deployed app, the AWS console page of the function's Lambda (or Step Functions
state machine).  ``Function``/``Cls``/``FunctionCall.get_dashboard_url()`` use these.
"""

from __future__ import annotations

import json
import os

from runtime.environment import VARIABLES


def serve_origin(app_name: str) -> str | None:
    """The origin of a ``toolkit serve`` of ``app_name`` running on this machine (or serving this process)."""
    from toolkit import config  # here: config and the serve registry are read only when a URL is asked for
    from toolkit.loaded import served_origin

    origin = config.setting_env("TOOLKIT_SERVE_ORIGIN") or served_origin(app_name)
    if origin:
        return origin
    from toolkit.serve.registry import ServeRegistry

    try:
        records = ServeRegistry().read().records
    except OSError:
        return None
    alive = [r for r in records if r.app == app_name and r.process.alive()]
    return str(alive[0].origin) if alive else None


def console_url(tag: str) -> str | None:
    """Inside a deployed app: the AWS console page of function ``tag`` (its Lambda, else its worker's
    state machine), from the targets the deploy gave this container; None elsewhere."""
    raw = os.environ.get(VARIABLES["function_targets"])
    if not raw:
        return None
    target = json.loads(raw).get(tag) or {}
    arn = target.get("lambda_arn") or target.get("state_machine_arn")
    if not arn:
        return None
    region = arn.split(":")[3]
    if target.get("lambda_arn"):
        name = arn.split(":")[6]
        return f"https://{region}.console.aws.amazon.com/lambda/home?region={region}#/functions/{name}"
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/statemachines/view/{arn}"

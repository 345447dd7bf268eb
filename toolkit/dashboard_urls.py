"""Where a function's or a call's dashboard page is: the local ``toolkit serve`` dashboard of its
app, or, for a deployed function (called from inside its app, or looked up by name), the AWS console
page of its Lambda (or Step Functions state machine).  ``Function``/``Cls``/``FunctionCall.get_dashboard_url()`` use these.
"""

from __future__ import annotations

from typing import Any


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


def console_url(target: Any) -> str | None:
    """The AWS console page of a deployed function's target (a `runtime.cloud_client.FunctionTarget`:
    its Lambda, else its worker's state machine); None when it has neither."""
    lambda_arn = getattr(target, "lambda_arn", None)
    arn = lambda_arn or getattr(target, "state_machine_arn", None)
    if not arn:
        return None
    region = arn.split(":")[3]
    if lambda_arn:
        name = arn.split(":")[6]
        return f"https://{region}.console.aws.amazon.com/lambda/home?region={region}#/functions/{name}"
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/statemachines/view/{arn}"

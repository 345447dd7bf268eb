"""Deployed apps found by name: the last place ``Function.from_name``/``Cls.from_name``/``App.lookup`` search.

``toolkit deploy`` leaves a call map in SSM (`runtime.callmap`) at a name derived from the app's
name, its environment (``environment_name=``, else the ``environment`` setting) and the AWS region
(``AWS_REGION``/``AWS_DEFAULT_REGION``/the profile's).  One ``ssm:GetParameter`` reads it; the
handles built from it carry a `toolkit.runner.CloudRunner` over the app's call table and targets
(`runtime.cloud_client.transport_from_call_map`), so ``.remote/.spawn/.map/.starmap`` (and
``.aio``) call the deployed functions, ``FunctionCall.from_id(...).get()`` reads the app's call
table, and ``get_web_url()`` answers the deployed URL.  No source file, Pulumi CLI or stack state.

Why SSM rather than the stack's outputs or the tagging API: outputs need the Pulumi CLI and the
state backend's credentials; ``tag:GetResources`` needs a broad read permission, answers
eventually-consistently and would still leave the call table and the class parameters to find.
A parameter at a derivable name is one read, one least-privilege grant, and is written in the
same update that creates the functions.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runtime.callmap import CallMap, MappedFunction, parameter_name
from toolkit.app import App
from toolkit.cls import Cls
from toolkit.deployed_code import DeployedCode, remember_call, remember_runner
from toolkit.functions import Function
from toolkit.image import Image
from toolkit.partial import WebConfig
from toolkit.runner import CloudRunner
from toolkit.secret import Secret
from toolkit.spec import ClsInfo, FunctionSpec, Retries

if TYPE_CHECKING:
    from runtime.cloud_client import CloudTransport

__all__ = ["DeployedSearch", "LookedUpRunner", "find_deployed"]

_lock = threading.Lock()
_found: dict[tuple[str, str | None, str], App] = {}  # (app, environment, region) -> its handles


class LookedUpRunner(CloudRunner):
    """A deployed app's runner in a process outside it: remembers the calls it spawns, so that
    ``FunctionCall.get`` on them reads this app's call table.  ``call_map``: what the lookup read
    (log groups and region for ``fn.logs`` / ``fn.stats()``)."""

    def __init__(self, transport: CloudTransport, call_map: CallMap | None = None) -> None:
        super().__init__(transport)
        self.call_map = call_map

    def spawn(self, fn: Function, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        call_id = super().spawn(fn, args, kwargs)
        remember_call(call_id, self)
        return call_id


class DeployedSearch:
    """Where a deployed app is looked for: its call map's parameter, in one region (for the errors)."""

    def __init__(self, app_name: str, environment: str | None, region: str | None) -> None:
        from toolkit.deploy.names import stack_name

        self.app_name, self.environment, self.region = app_name, environment, region
        stack = stack_name(app_name, environment, region=region)
        self.parameter = parameter_name(stack.project, stack.stack)
        self.failure: str | None = None  # why AWS could not answer, with the fix

    def describe(self) -> str:
        if self.region is None:
            return ("no AWS region is configured (AWS_REGION, AWS_DEFAULT_REGION or the profile's), so no "
                    "deployed app was searched")
        if self.failure is not None:
            return self.failure
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        where = f"region {self.region}" + (f" at {endpoint}" if endpoint else "") + _account()
        return (f"no call map at SSM parameter {self.parameter} in {where} (environment "
                f"{self.environment or 'main'})")


def _read_failure(search: DeployedSearch, code: str) -> str:
    failed = f"reading SSM parameter {search.parameter} in {search.region} failed ({code})"
    from toolkit.context import in_deployment

    if in_deployment() and code in ("AccessDenied", "AccessDeniedException"):  # the role toolkit wrote (infra)
        return (f"{failed}: inside a deployed function the role reaches only its own app, not "
                f"{search.app_name!r} (docs/deploy.md, \"What a deployed function's role may do\"); to call it from "
                f"here, grant this function's role ssm:GetParameter on {search.parameter} and the actions "
                "docs/calls.md lists on that app's resources, or call it through one of its web endpoints")
    return f"{failed}: a lookup needs ssm:GetParameter on it (docs/calls.md lists the other actions)"


def _account() -> str:
    try:  # sts:GetCallerIdentity needs no permission; only on the error path
        from runtime.awsclients import client

        return f", account {client('sts').get_caller_identity()['Account']}"
    except Exception:  # no credentials: the message still names region and parameter
        return ""


def aws_region() -> str | None:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    import boto3

    found: str | None = boto3.session.Session().region_name
    return found


def find_deployed(app_name: str, environment: str | None) -> tuple[App | None, DeployedSearch]:
    """The deployed app's handles, or None with what was searched (and why AWS did not answer)."""
    from toolkit import config

    environment = environment if environment is not None else config.setting("environment")
    search = DeployedSearch(app_name, environment, aws_region())
    if search.region is None:
        return None, search
    key = (app_name, environment, search.region)
    with _lock:
        if key in _found:
            return _found[key], search
    call_map = _read(search)
    if call_map is None:
        return None, search
    app = build_app(call_map)
    with _lock:
        _found[key] = app
    return app, search


def _read(search: DeployedSearch) -> CallMap | None:
    import botocore.exceptions

    from runtime.awsclients import client

    try:
        reply = client("ssm", search.region).get_parameter(Name=search.parameter)
    except botocore.exceptions.NoCredentialsError:
        search.failure = (f"the deployed app was not searched: no AWS credentials (set AWS_PROFILE or "
                          f"AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY to read {search.parameter})")
        return None
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code != "ParameterNotFound":
            search.failure = _read_failure(search, str(code))
        return None
    return CallMap.loads(reply["Parameter"]["Value"], search.parameter)


def build_app(call_map: CallMap) -> App:
    """Handles on every function and class of the deployed app, all calling it through one runner."""
    from runtime.cloud_client import transport_from_call_map

    runner = LookedUpRunner(transport_from_call_map(call_map), call_map)
    remember_runner(runner)
    app = App(call_map.app)
    for tag, mapped in sorted(call_map.functions.items()):
        if "~" not in tag:  # a with_options variant (toolkit.variants) is reached through its function's handle
            app.registered_functions[tag] = Function(_spec(call_map, mapped, runner))
    for name, parameters in call_map.classes.items():
        methods = {f.spec.name: f for f in app.registered_functions.values() if f.spec.cls and f.spec.cls.name == name}
        app.registered_classes[name] = Cls(_cls_info(call_map.app, name, parameters), methods)
    return app


def _spec(call_map: CallMap, mapped: MappedFunction, runner: LookedUpRunner) -> FunctionSpec:
    params = call_map.classes.get(mapped.cls or "", ())
    return FunctionSpec(
        app_name=call_map.app, tag=mapped.tag, name=mapped.tag.rpartition(".")[2],
        raw_f=DeployedCode(call_map.app, mapped.tag, runner, mapped.url), module="", source_file=None,
        is_generator=mapped.generator, cls=_cls_info(call_map.app, mapped.cls, params) if mapped.cls else None,
        web=WebConfig(mapped.kind) if mapped.kind != "function" else None,
        image=Image.debian_slim(),  # a placeholder: the function's image is in AWS, and nothing builds it here
        **_deployed_fields(mapped.options),
    )


def _deployed_fields(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The spec fields the function was deployed with (`runtime.callmap.deployed_options`): ``with_options``
    on the handle derives a variant's deployed tag from how it differs from them (`toolkit.variants`).
    Secrets are handles by name only: their values stay in AWS."""
    if options is None:  # a call map written before it recorded options
        return {}
    retries = options["retries"]
    return {
        "cpu": options["cpu"], "memory": options["memory"], "gpu": options["gpu"], "timeout": options["timeout"],
        "min_containers": options["min_containers"], "max_containers": options["max_containers"],
        "buffer_containers": options["buffer_containers"], "scaledown_window": options["scaledown_window"],
        "max_inputs": options["max_inputs"], "target_inputs": options["target_inputs"], "backend": options["backend"],
        "retries": None if retries is None else Retries(*retries),
        "secrets": tuple(Secret.from_name(name) for name in options["secrets"]),
        "volumes": tuple((path, name, bool(create), bool(read_only)) for path, name, create, read_only
                         in options["volumes"]),
    }


def _cls_info(app: str, name: str, parameters: tuple[tuple[str, str, Any], ...]) -> ClsInfo:
    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        DeployedCode(app, name, None)()  # raises: the class's code is not here

    return ClsInfo(name, type(name, (), {"__init__": refuse}), parameters)

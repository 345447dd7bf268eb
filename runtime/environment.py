"""The container environment: every ``TOOLKIT_*`` variable a deployed container reads, once.

Infra writes them (`infra/components/function.py`, `infra/asl.py` for the ECS worker task, the
image builder for the two the image itself sets); the entrypoints read them with
`ContainerEnv.from_environ`, which parses numbers and flags and names the variable and the fix
when one is malformed.  A field is None when its variable is unset or empty: the reader that
uses it knows its own default (a Lambda's budget differs from an ECS task's).

Values that are JSON (``secret_arns``, ``bucket_secret_arns``, ``function_targets``, ``proxy_tokens``, ``worker_task``)
stay text here: the module that uses each one parses it and says what it expected.

Stdlib only, a NamedTuple: every cold start defines it.

Front door (``runtime.FRONT_DOORS``): the SDK imports `ContainerEnv` and the variable names, which
the image builder and the SDK inside a container (``toolkit.runner``) read and write; `__all__` is
what it offers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

__all__ = ["FOR_USER_CODE", "KNOBS", "MANIFEST_PATH", "SANDBOX_CONFIG_KEY", "SANDBOX_TUNNEL_TAG", "TASK_ROOT", "VARIABLES", "ContainerEnv",
           "ContainerEnvError", "variables"]

TASK_ROOT = "/var/task"  # Lambda's LAMBDA_TASK_ROOT; the image puts the app's code and manifest here
MANIFEST_PATH = f"{TASK_ROOT}/toolkit-manifest.json"

V = TypeVar("V")


class ContainerEnvError(ValueError):
    """A container variable holds something unusable: the message names it and the fix."""


class ContainerEnv(NamedTuple):
    manifest: str | None = None  # path to the app manifest JSON (the image sets MANIFEST_PATH)
    function: str | None = None  # tag of the function this container serves
    app_root: str | None = None  # directory the manifest's source path is relative to (default: cwd)
    secret_arns: str | None = None  # JSON list of Secrets Manager ARNs loaded into os.environ at init
    calls_table: str | None = None  # DynamoDB call table: stored calls, worker tasks, detached web calls
    payload_bucket: str | None = None  # S3 bucket for claim-checks over the item-size threshold
    call_ttl_seconds: int | None = None  # how long call records live
    state_machine_arn: str | None = None  # this function's worker state machine (over-budget web calls)
    function_targets: str | None = None  # JSON {tag: {"lambda_arn", "state_machine_arn"}}: the app's functions
    request_budget_s: float | None = None  # front-door wait before a 303
    stream_budget_s: float | None = None  # a streamed Function URL request's wait before a 303
    stream_responses: bool = True  # False ("0"): answer Function URL events buffered (BUFFERED invoke mode)
    proxy_tokens: str | None = None  # JSON {token_id: sha256_hex(secret)} for requires_proxy_auth endpoints
    rate_limit: float | None = None  # requests/s an ECS task admits (0: no limit)
    max_instances: int | None = None  # class instances (distinct parameter values) one environment keeps
    web_url: str | None = None  # the endpoint's public URL (for the user's code; the runtime does not need it)
    worker_task: str | None = None  # JSON worker task an ECS worker runs (set per task by the state machine)
    worker_attempt: int | None = None  # the ECS worker task's Step Functions retry count (set per task there too)
    state_table: str | None = None  # DynamoDB table of the app's Dicts and Queues (runtime.primitives.dynamodb)
    state_bucket: str | None = None  # S3 bucket for Dict/Queue values over the state table's item limit
    volume_bucket: str | None = None  # S3 bucket of the app's Volumes (runtime.volumes.s3), one prefix each
    bucket_secret_arns: str | None = None  # JSON {secret name: ARN}: CloudBucketMount secrets (never in os.environ)
    bucket_sync_s: float | None = None  # seconds between CloudBucketMount syncs where no invocation ends one (ECS)
    app_name: str | None = None  # the deployed app's name: what a ``toolkit.App()`` made without one is named
    shutdown_grace_s: float | None = None  # Lambda: SIGTERM to exit at most (0.45; 1.9 with an external extension)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ContainerEnv:
        """The variables in ``environ`` (default ``os.environ``); raises `ContainerEnvError`."""
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field, name in VARIABLES.items():
            raw = source.get(name)
            if raw:
                values[field] = _PARSERS.get(field, _text)(name, raw)
        return cls(**values)

    def to_environ(self) -> dict[str, str]:
        """The variables for the fields that are set, as a container gets them."""
        return variables({field: _encode(value) for field, value in self._asdict().items()
                          if value is not None and value != self._field_defaults[field]})

    @staticmethod
    def name(field: str) -> str:
        """The variable of ``field``: ``name("calls_table") == "TOOLKIT_CALLS_TABLE"``."""
        return VARIABLES[field]


# One row per field: the names are spelled out so that grepping for a variable finds its definition.
VARIABLES: dict[str, str] = {
    "manifest": "TOOLKIT_MANIFEST",
    "function": "TOOLKIT_FUNCTION",
    "app_root": "TOOLKIT_APP_ROOT",
    "secret_arns": "TOOLKIT_SECRET_ARNS",
    "calls_table": "TOOLKIT_CALLS_TABLE",
    "payload_bucket": "TOOLKIT_PAYLOAD_BUCKET",
    "call_ttl_seconds": "TOOLKIT_CALL_TTL_SECONDS",
    "state_machine_arn": "TOOLKIT_STATE_MACHINE_ARN",
    "function_targets": "TOOLKIT_FUNCTION_TARGETS",
    "request_budget_s": "TOOLKIT_REQUEST_BUDGET_S",
    "stream_budget_s": "TOOLKIT_STREAM_BUDGET_S",
    "stream_responses": "TOOLKIT_STREAM_RESPONSES",
    "proxy_tokens": "TOOLKIT_PROXY_TOKENS",
    "rate_limit": "TOOLKIT_RATE_LIMIT",
    "max_instances": "TOOLKIT_MAX_INSTANCES",
    "web_url": "TOOLKIT_WEB_URL",
    "worker_task": "TOOLKIT_WORKER_TASK",
    "worker_attempt": "TOOLKIT_WORKER_ATTEMPT",
    "state_table": "TOOLKIT_STATE_TABLE",
    "state_bucket": "TOOLKIT_STATE_BUCKET",
    "volume_bucket": "TOOLKIT_VOLUME_BUCKET",
    "bucket_secret_arns": "TOOLKIT_BUCKET_SECRET_ARNS",
    "bucket_sync_s": "TOOLKIT_BUCKET_SYNC_S",
    "app_name": "TOOLKIT_APP_NAME",
    "shutdown_grace_s": "TOOLKIT_SHUTDOWN_GRACE_S",
}


# Who sets what.  The deploy (infra, the image, the worker state machine) sets every field but these
# knobs, which the runtime reads with a default and an operator may set on a function; and the
# runtime reads every field but those written only for the user's code.
KNOBS = frozenset({"call_ttl_seconds", "request_budget_s", "stream_responses", "rate_limit", "max_instances",
                   "bucket_sync_s", "shutdown_grace_s"})
FOR_USER_CODE = frozenset({"web_url"})


def variables(values: Mapping[str, V]) -> dict[str, V]:
    """``{variable: value}`` for values given by field name, the values left as they are: infra
    passes Pulumi outputs (resolved to text later), `ContainerEnv.to_environ` plain text."""
    unknown = sorted(set(values) - set(VARIABLES))
    if unknown:
        raise ContainerEnvError(f"{unknown[0]!r} is not a container variable; add it to ContainerEnv "
                                f"(runtime/environment.py) first. Known: {', '.join(VARIABLES)}")
    return {VARIABLES[field]: value for field, value in values.items()}


def _text(name: str, raw: str) -> str:
    return raw


def _number(kind: Callable[[str], Any], example: str) -> Callable[[str, str], Any]:
    def parse(name: str, raw: str) -> Any:
        try:
            return kind(raw)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise ContainerEnvError(f"{name}={raw!r} is not {what}; set it to e.g. {example}.") from None

    return parse


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "call_ttl_seconds": _number(int, "604800 (7 days)"),
    "request_budget_s": _number(float, "25"),
    "stream_budget_s": _number(float, "150"),
    "stream_responses": lambda name, raw: raw != "0",
    "rate_limit": _number(float, "200 (0 disables)"),
    "max_instances": _number(int, "8"),
    "worker_attempt": _number(int, "0"),
    "bucket_sync_s": _number(float, "30"),
    "shutdown_grace_s": _number(float, "0.45 (1.9 where an external extension gives the Shutdown phase 2 s)"),
}


def _encode(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


# -- the deployed app's sandbox configuration ---------------------------------------------------------
# Beside the environment: the item the deploy writes to the state table so that toolkit.Sandbox in a
# deployed function finds the app's sandbox resources (infra/stack.py writes it, toolkit.sandboxes.aws
# reads it; runtime.sandbox_agent is the agent those resources run).
SANDBOX_CONFIG_KEY = {"pk": {"S": "sandboxes#config"}, "sk": {"S": "config"}}
# the tag (valued with the app's sandbox queue prefix) on the security group a sandbox with tunnels gets:
# toolkit.sandboxes.aws_network makes and sweeps them, infra/components/sandboxes.py grants that on it only
SANDBOX_TUNNEL_TAG = "toolkit:sandbox-tunnel"


def sandbox_config_item(outputs: dict[str, Any]) -> dict[str, Any]:
    return {**SANDBOX_CONFIG_KEY, "config": {"S": json.dumps(outputs, sort_keys=True)}}

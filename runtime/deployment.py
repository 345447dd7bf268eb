"""The manifest as the runtime sees it: which function this container serves, and how.

The manifest is parsed by `runtime.manifest` (the schema) and the container's variables by
`runtime.environment`; this module picks this container's function out of them and builds the
one `GatewayPolicy` every front door (Lambda, its Function URL stream, the ECS server) uses.

Front door (``runtime.FRONT_DOORS``): the SDK imports `load_deployment`: the SDK inside a container
finds its own function; `__all__` is what it offers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

from runtime.adapters.base import WebSpec
from runtime.environment import ContainerEnv
from runtime.manifest import FunctionEntry, ManifestError, Source, load

if TYPE_CHECKING:
    from runtime.gateway import GatewayPolicy

__all__ = ["Deployment", "DeploymentError", "FrontDoor", "load_deployment"]

DEFAULT_RATE_LIMIT = 200.0  # requests/s per ECS task (5 s burst) unless TOOLKIT_RATE_LIMIT says otherwise; 0: off
FrontDoor = Literal["lambda", "stream", "ecs"]  # the buffered Lambda doors, a Function URL stream, the ECS server


class DeploymentError(RuntimeError):
    """The container is misconfigured (manifest missing, unknown function): the message names the fix."""


class Deployment(NamedTuple):  # NamedTuple: cheap to define, a cold start pays for each class
    app_name: str
    source: Source
    function: FunctionEntry
    env: ContainerEnv = ContainerEnv()
    environment: str | None = None  # the deploy's environment (`toolkit deploy --env`), None: the default

    @property
    def web_spec(self) -> WebSpec:
        return WebSpec.from_manifest(self.function)

    def gateway_policy(self, door: FrontDoor) -> GatewayPolicy:
        """The gateway's rules for this function behind ``door``: budgets and tokens from the environment."""
        from runtime.gateway import (
            DEFAULT_BUDGET_S,
            HTTP_API_BUDGET_S,
            LAMBDA_MAX_BODY_BYTES,
            GatewayPolicy,
            StaticTokens,
            TokenBucket,
        )

        entry, env = self.function, self.env
        auth = entry.web is not None and entry.web.requires_proxy_auth
        tokens = StaticTokens.from_json(env.proxy_tokens)
        if door == "ecs":  # uvicorn behind an ALB: the full budget, a rate limit, WebSockets
            rate = _given(env.rate_limit, DEFAULT_RATE_LIMIT)
            return GatewayPolicy(function=entry.tag, timeout=entry.timeout,
                                 budget=_given(env.request_budget_s, DEFAULT_BUDGET_S), served_by="ecs",
                                 requires_proxy_auth=auth, tokens=tokens,
                                 rate_limiter=TokenBucket(rate) if rate > 0 else None)
        if door == "stream":  # a Function URL: no 30 s cut, so the full budget
            budget = _given(env.stream_budget_s, DEFAULT_BUDGET_S)
        else:  # API Gateway's HTTP API answers 503 at 30 s: the 303 must come first
            budget = _given(env.request_budget_s, HTTP_API_BUDGET_S)
        return GatewayPolicy(function=entry.tag, timeout=entry.timeout, budget=budget,
                             max_body_bytes=LAMBDA_MAX_BODY_BYTES, served_by="lambda", websockets=False,
                             requires_proxy_auth=auth, tokens=tokens)


def _given(value: float | None, default: float) -> float:
    return default if value is None else value


def load_deployment(manifest_path: str | None = None, tag: str | None = None,
                    env: ContainerEnv | None = None) -> Deployment:
    env = env if env is not None else ContainerEnv.from_environ()
    path, tag = manifest_path or env.manifest, tag or env.function
    if not path or not tag:
        raise DeploymentError(f"Set {env.name('manifest')} (path to manifest.json) and {env.name('function')} "
                              "(a function tag).")
    try:
        manifest = load(path)
        entry = manifest.function(tag)
    except ManifestError as exc:
        raise DeploymentError(f"The manifest at {path!r} ({env.name('function')}={tag!r}): {exc}") from exc
    return Deployment(manifest.app_name or "", manifest.source, entry, env, manifest.environment)

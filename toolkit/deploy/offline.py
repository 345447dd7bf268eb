"""``toolkit plan``: the resources a deploy would declare, computed with no CLI, no
credentials and no network, by running the infra program under Pulumi's mock runtime.

The mocks run in *preview* mode, like ``pulumi preview``: computed attributes (ARNs,
endpoints) stay unknown, so nothing here has to invent plausible AWS values and the program
declares exactly what it would declare before anything exists.  Data sources (the account
id, the default VPC, Route53 zones, the GPU AMI) are answered with placeholders.

Each planned resource keeps its *inputs* (``toolkit plan --json``), as ``terraform plan -json``
shows them, so a user (and the constraint tests) can review exactly what would be created.
Values Pulumi marks secret, and keys that name credentials (passwords, tokens, private keys,
secret strings), are masked as ``"[secret]"``; values only known after apply (ARNs, ids) read
``"(known after apply)"``.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.deploy.errors import DeployError
from toolkit.deploy.names import StackName
from toolkit.deploy.program import infra_program

__all__ = ["MASKED", "PLACEHOLDER_DIGEST", "UNKNOWN", "PlannedResource", "ResourcePlan", "plain_inputs",
           "plan_offline", "placeholder_images"]

PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
_PLACEHOLDER_REPO = "000000000000.dkr.ecr.us-east-1.amazonaws.com/toolkit/plan"

# Data sources the program reads, answered with inert placeholders.
_INVOKES: dict[str, dict[str, Any]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": {"accountId": "000000000000", "arn": "arn:aws:iam::000000000000:user/plan",
                                                      "userId": "PLAN", "id": "000000000000"},
    "aws:ssm/getParameter:getParameter": {"value": "ami-00000000000000000", "type": "String", "id": "param"},
    "aws:ec2/getVpc:getVpc": {"id": "vpc-plan", "cidrBlock": "172.31.0.0/16"},
    "aws:ec2/getVpcs:getVpcs": {"id": "vpcs", "ids": ["vpc-plan"]},  # infra's default-VPC lookup
    "aws:ec2/getSubnet:getSubnet": {"id": "subnet-plan-a", "vpcId": "vpc-plan"},  # toolkit:subnetIds' VPC
    "aws:ec2/getSubnets:getSubnets": {"id": "subnets", "ids": ["subnet-plan-a", "subnet-plan-b"]},
}


MASKED = "[secret]"
UNKNOWN = "(known after apply)"
# Pulumi's wire marker for a secret value (pulumi.runtime.rpc: _special_sig_key / _special_secret_sig).
_SIG_KEY, _SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
_SENSITIVE_KEY = re.compile(r"(password|passphrase|secret_?string|secret_?binary|private_?key|token|credential)s?$",
                            re.IGNORECASE)


def plain_inputs(value: Any, key: str = "") -> Any:
    """Mock-runtime inputs -> JSON: secrets and credential-named keys masked, unknowns named."""
    if _SENSITIVE_KEY.search(key) and value not in (None, "", {}, []):
        return MASKED
    if isinstance(value, Mapping):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return MASKED
        return {str(k): plain_inputs(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_inputs(v, key) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return UNKNOWN  # pulumi.output.Unknown: computed by the provider


@dataclass(frozen=True)
class PlannedResource:
    type: str  # e.g. aws:lambda/function:Function, toolkit:function:ToolkitFunction
    name: str  # the logical (Pulumi) name
    inputs: Mapping[str, Any] = field(default_factory=dict, compare=False)  # plain_inputs(): JSON, masked

    @property
    def is_component(self) -> bool:
        return not self.type.startswith(("aws:", "pulumi:providers:"))


@dataclass
class ResourcePlan:
    stack: StackName
    resources: list[PlannedResource] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(r.type for r in self.resources).items()))

    def types(self) -> set[str]:
        return {r.type for r in self.resources}

    def to_json(self) -> dict[str, Any]:
        return {"stack": str(self.stack),
                "resources": [{"type": r.type, "name": r.name, "inputs": dict(r.inputs)} for r in self.resources],
                "counts": self.counts(), "total": len(self.resources)}


def _mocks(recorded: list[PlannedResource]) -> Any:
    import pulumi

    class PlanMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            recorded.append(PlannedResource(args.typ, args.name, plain_inputs(dict(args.inputs))))
            return None, dict(args.inputs)  # preview: no id, computed outputs unknown

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            if args.token == "aws:route53/getZone:getZone":
                return {"zoneId": "ZPLAN", "name": args.args.get("name"), "id": "ZPLAN"}, []
            return dict(_INVOKES.get(args.token, {})), []

    return PlanMocks()


def placeholder_images(manifest: Mapping[str, Any]) -> dict[str, str]:
    """What toolkit:images will hold once built: one digest-pinned URI per function (and sandbox-only image)."""
    from toolkit.deploy.images import image_keys

    return {key: f"{_PLACEHOLDER_REPO}@{PLACEHOLDER_DIGEST}" for key in image_keys(manifest)}


def plan_offline(stack: StackName, stack_config: Mapping[str, str]) -> ResourcePlan:
    """Run the infra program on ``stack_config`` under mocks; return what it declared."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    plan = ResourcePlan(stack)
    _ensure_event_loop()
    pulumi.runtime.set_mocks(_mocks(plan.resources), project=stack.project, stack=stack.stack, preview=True)
    runtime_config.set_all_config(dict(stack_config))

    @pulumi.runtime.test
    def run() -> None:
        infra_program()

    try:
        run()
    except DeployError:
        raise
    except Exception as exc:  # the program's own errors name the key and the fix
        raise DeployError(f"The infra program rejected this app: {_root_cause(exc)}") from exc
    return plan


def _ensure_event_loop() -> None:
    # Pulumi's mock runtime makes its futures on the current event loop; an asyncio.run() earlier in
    # this process (an async entrypoint, a library) leaves none current, or a closed one.
    try:
        closed = asyncio.get_event_loop_policy().get_event_loop().is_closed()
    except RuntimeError:
        closed = True
    if closed:
        asyncio.set_event_loop(asyncio.new_event_loop())


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None or exc.__context__ is not None:
        nxt = exc.__cause__ or exc.__context__
        assert nxt is not None
        exc = nxt
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)

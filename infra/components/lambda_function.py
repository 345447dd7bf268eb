"""A function as a Lambda container image, with its log group and a ``live`` alias (the alias
carries provisioned concurrency, so every caller goes through it); for web endpoints, a
Function URL on that alias that streams responses (`StreamingUrl`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import child
from infra.plan import LAMBDA_MAX_TIMEOUT, FunctionPlan
from infra.sizing import lambda_ephemeral_mib, lambda_memory_mib

__all__ = [
    "ALIAS_NAME",
    "LambdaFunction",
    "LambdaFunctionArgs",
    "StreamingUrl",
    "StreamingUrlArgs",
    "alias_permission",
]

ALIAS_NAME = "live"


def alias_permission(parent: pulumi.Resource, name: str, function_name: pulumi.Input[str],
                     alias_name: pulumi.Input[str], action: str, principal: str,
                     **condition: Any) -> aws.lambda_.Permission:
    """A grant on the function's alias, never the bare function: every caller goes through the
    alias, which carries provisioned concurrency.  ``condition``: how the principal may invoke
    (``source_arn``, ``invoked_via_function_url``, ...)."""
    return aws.lambda_.Permission(name, action=action, function=function_name, qualifier=alias_name,
                                  principal=principal, opts=child(parent), **condition)


@dataclass
class LambdaFunctionArgs:
    plan: FunctionPlan
    role_arn: pulumi.Input[str]
    environment: Mapping[str, pulumi.Input[str]]
    log_group: aws.cloudwatch.LogGroup
    # proxy=: {"subnet_ids", "security_group_ids"} of its ProxyEgress; None keeps the Lambda out of any VPC
    vpc_config: aws.lambda_.FunctionVpcConfigArgsDict | None = None
    # grants Lambda itself uses with the function's role (a VPC's ENI actions): created before the
    # function (CreateFunction checks them) and deleted after it (Lambda deletes its ENIs with them)
    grants: Sequence[pulumi.Resource] = ()


class LambdaFunction(pulumi.ComponentResource):
    function: aws.lambda_.Function
    alias: aws.lambda_.Alias

    def __init__(self, name: str, args: LambdaFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:lambda:LambdaFunction", name, None, opts)
        plan = args.plan
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=plan.name,
            package_type="Image",
            image_uri=plan.image_uri,
            architectures=[plan.architecture],  # the image's platform must match (toolkit:architecture)
            role=args.role_arn,
            memory_size=lambda_memory_mib(plan.cpu, plan.memory),
            timeout=min(plan.timeout, LAMBDA_MAX_TIMEOUT),
            ephemeral_storage={"size": lambda_ephemeral_mib(plan.ephemeral_disk)},
            # max_containers caps parallel containers: Lambda's reserved concurrency.
            reserved_concurrent_executions=plan.max_containers if plan.max_containers is not None else -1,
            environment={"variables": dict(args.environment)},
            logging_config={"log_format": "Text", "log_group": args.log_group.name},
            vpc_config=args.vpc_config,
            publish=True,
            opts=child(self, depends_on=[args.log_group, *args.grants]),
        )
        self.alias = aws.lambda_.Alias(
            f"{name}-alias", name=ALIAS_NAME, function_name=self.function.name,
            function_version=self.function.version, opts=child(self),
        )
        if plan.min_containers > 0:
            # min_containers warm containers: provisioned concurrency on the alias.
            aws.lambda_.ProvisionedConcurrencyConfig(
                f"{name}-warm", function_name=self.function.name, qualifier=self.alias.name,
                provisioned_concurrent_executions=plan.min_containers, opts=child(self),
            )
        self.register_outputs({"function_arn": self.function.arn, "alias_arn": self.alias.arn})


@dataclass
class StreamingUrlArgs:
    function_name: pulumi.Input[str]
    alias_name: pulumi.Input[str]


class StreamingUrl(pulumi.ComponentResource):
    """A Function URL in ``RESPONSE_STREAM`` mode on the function's alias: the runtime streams
    the body as the app produces it (runtime/events/streaming.py), with no 30 s cut and no 6 MB
    buffer, where API Gateway would buffer it whole.

    ``authorization_type="NONE"``: the URL is public and the runtime's gateway applies proxy auth
    (``requires_proxy_auth``), as behind API Gateway.  ``AWS_IAM`` with CloudFront Origin Access
    Control would keep the URL private, but Lambda then needs every POST/PUT viewer to send the
    body's SHA-256 in ``x-amz-content-sha256`` (it accepts no unsigned payloads), which browsers
    and ordinary clients do not.  The public grant is as narrow as a public URL allows: the alias
    only, and ``lambda:InvokeFunction`` only through the URL (``lambda:InvokedViaFunctionUrl``).
    """

    url: pulumi.Output[str]
    host: pulumi.Output[str]

    def __init__(self, name: str, args: StreamingUrlArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:lambda:StreamingUrl", name, None, opts)
        function_url = aws.lambda_.FunctionUrl(
            f"{name}-url",
            function_name=args.function_name,
            qualifier=args.alias_name,
            authorization_type="NONE",
            invoke_mode="RESPONSE_STREAM",
            opts=child(self),
        )
        # A public URL needs both grants (AWS asks for the second for new URLs since late 2025).
        for suffix, action, condition in (
            ("url-public", "lambda:InvokeFunctionUrl", {"function_url_auth_type": "NONE"}),
            ("url-invoke", "lambda:InvokeFunction", {"invoked_via_function_url": True}),
        ):
            alias_permission(self, f"{name}-{suffix}", args.function_name, args.alias_name, action, "*", **condition)
        self.url = function_url.function_url
        self.host = self.url.apply(lambda u: u.removeprefix("https://").rstrip("/"))
        self.register_outputs({"url": self.url})

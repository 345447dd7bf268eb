"""The composition root: settings -> plan -> every component, wired; returns the outputs.

``infra/__main__.py`` calls :func:`deploy` with the stack's config; tests call it with
``Settings`` built in Python under Pulumi's mock runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.calls import CallStore, CallStoreArgs
from infra.components.domains import Certificate, CertificateArgs, ZoneLookup
from infra.components.ecs import EcsPlatform, EcsPlatformArgs
from infra.components.function import AppContext, ToolkitFunction, ToolkitFunctionArgs
from infra.components.gpu import GPU_AMI_PARAMETER, GpuCapacity, GpuCapacityArgs
from infra.components.registry import Registry, RegistryArgs
from infra.components.secrets import Secrets, SecretsArgs
from infra.config import Settings
from infra.plan import AppPlan, plan_app
from infra.policies import ecr_arn_from_image
from infra.providers import Providers, make_providers

__all__ = ["DeployResult", "deploy"]


@dataclass
class DeployResult:
    plan: AppPlan
    providers: Providers
    outputs: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, ToolkitFunction] = field(default_factory=dict)


def _invoke(providers: Providers) -> pulumi.InvokeOptions:
    return pulumi.InvokeOptions(provider=providers.default)


def _network(settings: Settings, providers: Providers) -> tuple[pulumi.Output[str], pulumi.Output[list[str]]]:
    """The configured VPC and subnets, else the account's default VPC."""
    if settings.vpc_id and settings.subnet_ids:
        return pulumi.Output.from_input(settings.vpc_id), pulumi.Output.from_input(list(settings.subnet_ids))
    vpc_id = aws.ec2.get_vpc_output(default=True, opts=_invoke(providers)).id
    in_vpc: Any = {"name": "vpc-id", "values": [vpc_id]}
    subnets = aws.ec2.get_subnets_output(filters=[in_vpc], opts=_invoke(providers))
    return vpc_id, subnets.ids


def _wildcard_certificate(settings: Settings, zones: ZoneLookup, providers: Providers, prefix: str) -> pulumi.Output[str] | None:
    """``*.<baseDomain>`` in the default region: API Gateway domains and the ALB use it."""
    base = settings.base_domain
    if not base:
        return None
    zone = settings.hosted_zone or base
    cert = Certificate(
        f"{prefix}-workspace-cert",
        CertificateArgs(domains=[f"*.{base}"], zone_id_for=lambda _d: zones.zone_id(zone), provider=providers.default),
        opts=pulumi.ResourceOptions(provider=providers.default),
    )
    return cert.certificate_arn


def _platform(ctx: AppContext, registry: Registry, providers: Providers, opts: pulumi.ResourceOptions) -> None:
    app, settings = ctx.app, ctx.settings
    vpc_id, subnet_ids = _network(settings, providers)
    repos: list[pulumi.Input[str]] = [registry.repository.arn]
    repos += sorted({arn for f in app.functions if (arn := ecr_arn_from_image(f.image_uri))})
    ctx.subnet_ids = subnet_ids
    ctx.platform = EcsPlatform(
        f"{app.prefix}-ecs",
        EcsPlatformArgs(
            prefix=app.prefix, vpc_id=vpc_id, subnet_ids=subnet_ids, with_alb=app.needs_alb,
            certificate_arn=ctx.wildcard_cert_arn, repository_arns=repos,
            log_group_arns=[ctx.arn("logs", f"log-group:/toolkit/{app.prefix}/*")],
        ),
        opts=opts,
    )
    _gpu_capacity(ctx, providers, opts)


def _gpu_capacity(ctx: AppContext, providers: Providers, opts: pulumi.ResourceOptions) -> None:
    platform, gpu_functions = ctx.platform, [f for f in ctx.app.functions if f.gpu]
    assert platform is not None
    ami = aws.ssm.get_parameter_output(name=GPU_AMI_PARAMETER, opts=_invoke(providers)).value
    for fn in gpu_functions:
        assert fn.gpu is not None and ctx.subnet_ids is not None
        capacity = GpuCapacity(
            f"{fn.name}-gpu",
            GpuCapacityArgs(
                function_name=fn.name, gpu=fn.gpu, cluster_name=platform.cluster.name, cluster_arn=platform.cluster.arn,
                subnet_ids=ctx.subnet_ids, security_group_id=platform.task_security_group.id, ami_id=ami,
                max_instances=max(fn.max_containers or 2, fn.min_containers, 1),
                on_demand_percent=ctx.settings.gpu_on_demand_percent,
            ),
            opts=opts,
        )
        ctx.capacity_providers[fn.tag] = capacity.capacity_provider.name
    ctx.capacity_ready = aws.ecs.ClusterCapacityProviders(
        f"{ctx.app.prefix}-capacity",
        cluster_name=platform.cluster.name,
        capacity_providers=pulumi.Output.all("FARGATE", "FARGATE_SPOT", *ctx.capacity_providers.values()),
        opts=opts,
    )


def deploy(settings: Settings) -> DeployResult:
    """Declare the whole app. Registry only when ``settings.registry_only``."""
    app = plan_app(settings)
    providers = make_providers(settings, app.prefix)
    result = DeployResult(plan=app, providers=providers)
    opts = pulumi.ResourceOptions(provider=providers.default)
    account_id = aws.get_caller_identity_output(opts=_invoke(providers)).account_id
    registry = Registry(
        f"{app.prefix}-registry",
        RegistryArgs(repository_name=f"toolkit/{app.prefix}", function_prefix=app.prefix,
                     region=settings.region, account_id=account_id),
        opts=opts,
    )
    result.outputs["repository_url"] = registry.repository.repository_url
    if settings.registry_only:
        return result
    calls = CallStore(f"{app.prefix}-calls", CallStoreArgs(table_name=f"{app.prefix}-calls",
                                                           payload_expiry_days=settings.payload_expiry_days), opts=opts)
    secrets = Secrets(f"{app.prefix}-secrets", SecretsArgs(names=app.secrets, path_prefix=f"toolkit/{app.prefix}"), opts=opts)
    zones = ZoneLookup(providers.default)
    ctx = AppContext(
        settings=settings, app=app, account_id=account_id, calls=calls, secret_arns=secrets.arns, zones=zones,
        us_east_1=providers.us_east_1, wildcard_cert_arn=_wildcard_certificate(settings, zones, providers, app.prefix),
        platform=None, subnet_ids=None, capacity_providers={}, capacity_ready=None,
    )
    if app.needs_ecs:
        _platform(ctx, registry, providers, opts)
    alb_functions = [f.tag for f in app.functions if f.has_service]
    for fn in app.functions:
        index = alb_functions.index(fn.tag) if fn.tag in alb_functions else 0
        result.functions[fn.tag] = ToolkitFunction(fn.name, ToolkitFunctionArgs(plan=fn, context=ctx, alb_index=index), opts=opts)
    result.outputs.update(_outputs(result, calls, secrets, ctx))
    return result


def _outputs(result: DeployResult, calls: CallStore, secrets: Secrets, ctx: AppContext) -> dict[str, Any]:
    functions = {tag: fn.outputs for tag, fn in result.functions.items()}
    return {
        "app": result.plan.app,
        "calls_table": calls.table.name,
        "payload_bucket": calls.bucket.bucket,
        "secrets": secrets.arns,
        "functions": functions,
        "endpoints": {tag: fn.url for tag, fn in result.functions.items() if fn.url is not None},
        "custom_domain_urls": {tag: o["custom_urls"] for tag, o in functions.items() if o.get("custom_urls")},
        "cluster_arn": ctx.platform.cluster.arn if ctx.platform else None,
    }

"""The composition root: settings -> plan -> every component, wired; returns the outputs.

``infra/__main__.py`` calls :func:`deploy` with the stack's config; tests call it with
``Settings`` built in Python under Pulumi's mock runtime.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.alb import endpoint_ports, rule_priorities
from infra.components.call_map import CallMapParameter, call_map_args
from infra.components.calls import CallStoreArgs, CallTable
from infra.components.domains import Certificate, CertificateArgs, ZoneLookup
from infra.components.ecs import EcsPlatform, EcsPlatformArgs
from infra.components.function import (
    AlbRoute,
    AppContext,
    ToolkitFunction,
    ToolkitFunctionArgs,
    alb_origin_domain,
)
from infra.components.gpu import GPU_AMI_PARAMETER, GpuCapacity, GpuCapacityArgs
from infra.components.proxy import ProxyEgress, ProxyEgressArgs
from infra.components.registry import ContainerRegistry, RegistryArgs
from infra.components.sandboxes import SANDBOX_CONTAINER, AppSandboxes, AppSandboxesArgs, sandbox_images
from infra.components.schedules import AppSchedules, AppSchedulesArgs
from infra.components.secrets import Secrets, SecretsArgs
from infra.components.state import AppState, AppStateArgs
from infra.components.volumes import AppVolumes, AppVolumesArgs
from infra.config import ConfigError, Settings
from infra.plan import AppPlan, plan_app
from infra.policies import ecr_arn_from_image
from infra.providers import Providers, make_providers
from infra.schedules import SchedulePlan, plan_schedules
from runtime import manifest as schema
from runtime.environment import sandbox_config_item

__all__ = ["DeployResult", "deploy"]


@dataclass
class DeployResult:
    plan: AppPlan
    providers: Providers
    outputs: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, ToolkitFunction] = field(default_factory=dict)


def _invoke(providers: Providers) -> pulumi.InvokeOptions:
    return pulumi.InvokeOptions(provider=providers.default)


NO_DEFAULT_VPC = (
    "this account has no default VPC in {region}, and ECS tasks, GPU instances and the load balancer "
    "need a network: set toolkit:subnetIds (JSON list; public subnets, or private ones with "
    "toolkit:privateSubnets=true and toolkit:albSubnetIds for the load balancer), optionally "
    "toolkit:vpcId -- with `toolkit deploy`: TOOLKIT_SUBNET_IDS, TOOLKIT_PRIVATE_SUBNETS, "
    "TOOLKIT_ALB_SUBNET_IDS, TOOLKIT_VPC_ID; or create a default VPC with "
    "`aws ec2 create-default-vpc --region {region}`"
)


def _default_vpc(vpc_ids: list[str], region: str) -> str:
    if not vpc_ids:
        raise ConfigError(NO_DEFAULT_VPC.format(region=region))
    return vpc_ids[0]


def _network(settings: Settings, providers: Providers) -> tuple[pulumi.Output[str], pulumi.Output[list[str]]]:
    """The configured subnets (and their VPC), else the account's default VPC and its subnets.

    The default VPC is looked up by filter, not ``get_vpc(default=True)``: that one fails with
    the provider's "no matching VPC found", which names no fix.
    """
    if settings.subnet_ids:
        subnets = list(settings.subnet_ids)
        vpc = settings.vpc_id or aws.ec2.get_subnet_output(id=subnets[0], opts=_invoke(providers)).vpc_id
        return pulumi.Output.from_input(vpc), pulumi.Output.from_input(subnets)
    is_default: Any = {"name": "is-default", "values": ["true"]}
    found = aws.ec2.get_vpcs_output(filters=[is_default], opts=_invoke(providers))
    vpc_id = found.ids.apply(lambda ids: _default_vpc(list(ids), settings.region))
    in_vpc: Any = {"name": "vpc-id", "values": [vpc_id]}
    subnets_found = aws.ec2.get_subnets_output(filters=[in_vpc], opts=_invoke(providers))
    return vpc_id, subnets_found.ids


def _wildcard_certificate(settings: Settings, plan: AppPlan, zones: ZoneLookup,
                          providers: Providers) -> pulumi.Output[str] | None:
    """``*.<baseDomain>`` in the default region: API Gateway domains and the ALB use it."""
    base = settings.base_domain
    if not base or not any(f.web for f in plan.functions):
        return None  # no web endpoint: no workspace host to serve
    zone = settings.hosted_zone or base
    cert = Certificate(
        f"{plan.prefix}-workspace-cert",
        CertificateArgs(domains=[f"*.{base}"], zone_id_for=lambda _d: zones.zone_id(zone), provider=providers.default),
        opts=pulumi.ResourceOptions(provider=providers.default),
    )
    return cert.certificate_arn


def _origin_certificate(ctx: AppContext, providers: Providers) -> pulumi.Output[str] | None:
    """Without a base domain, CloudFront reaches ALB endpoints with custom domains by their origin
    names (``alb_origin_domain``): one regional certificate names them all, so that hop is HTTPS."""
    names = [d for f in ctx.app.functions if (d := alb_origin_domain(f, ctx.settings)) is not None]
    if not names:
        return None
    cert = Certificate(
        f"{ctx.app.prefix}-origin-cert",
        CertificateArgs(domains=names, zone_id_for=ctx.zone_id_for, provider=providers.default),
        opts=pulumi.ResourceOptions(provider=providers.default),
    )
    return cert.certificate_arn


def _platform(ctx: AppContext, registry: ContainerRegistry, providers: Providers, opts: pulumi.ResourceOptions) -> None:
    app, settings = ctx.app, ctx.settings
    vpc_id, subnet_ids = _network(settings, providers)
    repos: list[pulumi.Input[str]] = [registry.repository.arn]
    repos += sorted({arn for f in app.functions if (arn := ecr_arn_from_image(f.image_uri))})
    ctx.subnet_ids = subnet_ids
    ctx.platform = EcsPlatform(
        f"{app.prefix}-ecs",
        EcsPlatformArgs(
            prefix=app.prefix, vpc_id=vpc_id, subnet_ids=subnet_ids, with_alb=app.needs_alb,
            alb_subnet_ids=list(settings.alb_subnet_ids) or None, assign_public_ip=not settings.private_subnets,
            with_gpu=any(f.gpu for f in app.functions), endpoint_ports=not settings.base_domain,
            certificate_arn=ctx.wildcard_cert_arn or _origin_certificate(ctx, providers), repository_arns=repos,
            log_group_arns=[ctx.arn("logs", f"log-group:/toolkit/{app.prefix}/*")],
        ),
        opts=opts,
    )
    _gpu_capacity(ctx, providers, opts)


NO_PUBLIC_SUBNET = (
    "functions ask for proxy={proxies}, whose NAT gateway needs a public subnet, but toolkit:subnetIds are "
    "private (toolkit:privateSubnets=true): set toolkit:albSubnetIds (TOOLKIT_ALB_SUBNET_IDS) to public subnets "
    "of the same VPC, or leave proxy= unset"
)


def _proxies(ctx: AppContext, providers: Providers, opts: pulumi.ResourceOptions) -> None:
    """One `ProxyEgress` per proxy name: its NAT gateway in the network's first public subnet (the ALB's
    when the task subnets are private), its private subnets in the same VPC."""
    settings = ctx.settings
    if settings.private_subnets and not settings.alb_subnet_ids:
        raise ConfigError(NO_PUBLIC_SUBNET.format(proxies=list(ctx.app.proxies)))
    vpc_id, subnet_ids = _network(settings, providers)
    public = settings.alb_subnet_ids[0] if settings.alb_subnet_ids else subnet_ids.apply(lambda ids: ids[0])
    vpc_cidr = aws.ec2.get_vpc_output(id=vpc_id, opts=_invoke(providers)).cidr_block
    zones = aws.get_availability_zones_output(state="available", opts=_invoke(providers)).names
    for index, name in enumerate(ctx.app.proxies):
        ctx.proxies[name] = ProxyEgress(f"{ctx.app.prefix}-proxy-{name}", ProxyEgressArgs(
            prefix=ctx.app.prefix, proxy=name, index=index, vpc_id=vpc_id, vpc_cidr=vpc_cidr,
            public_subnet_id=public, availability_zones=zones), opts=opts)


def _gpu_capacity(ctx: AppContext, providers: Providers, opts: pulumi.ResourceOptions) -> None:
    platform, gpu_functions = ctx.platform, [f for f in ctx.app.functions if f.gpu]
    assert platform is not None
    ami = aws.ssm.get_parameter_output(name=GPU_AMI_PARAMETER, opts=_invoke(providers)).value
    for fn in gpu_functions:
        assert fn.gpu is not None and ctx.subnet_ids is not None and platform.gpu_security_group is not None
        capacity = GpuCapacity(
            f"{fn.name}-gpu",
            GpuCapacityArgs(
                function_name=fn.name, gpu=fn.gpu, cluster_name=platform.cluster.name,
                subnet_ids=ctx.subnet_ids, security_group_id=platform.gpu_security_group.id, ami_id=ami,
                max_instances=max(fn.max_containers or 2, fn.min_containers, 1), region=ctx.settings.region,
                on_demand_percent=ctx.settings.gpu_on_demand_percent, public_ip=not ctx.settings.private_subnets,
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


def _alb_routes(app: AppPlan, settings: Settings) -> dict[str, AlbRoute]:
    """Per ALB endpoint: a listener rule priority (with a base domain) or a listener port
    (without), both from the host label so they survive other endpoints coming and going."""
    hosts = {f.tag: f.web.host for f in app.functions if f.has_service and f.web}
    priorities = rule_priorities(hosts.values())
    ports = {} if settings.base_domain else endpoint_ports(hosts.values())
    return {tag: AlbRoute(priority=priorities[host], port=ports.get(host)) for tag, host in hosts.items()}


def deploy(settings: Settings) -> DeployResult:
    """Declare the whole app. The registry only when ``settings.registry_only``."""
    app = plan_app(settings)
    schedules = plan_schedules(schema.load(settings.manifest), app)  # refused before anything is declared
    providers = make_providers(settings, app.prefix)
    result = DeployResult(plan=app, providers=providers)
    opts = pulumi.ResourceOptions(provider=providers.default)
    account_id = aws.get_caller_identity_output(opts=_invoke(providers)).account_id
    registry = ContainerRegistry(
        f"{app.prefix}-registry",
        RegistryArgs(repository_name=f"toolkit/{app.prefix}", function_prefix=app.prefix,
                     region=settings.region, account_id=account_id),
        opts=opts,
    )
    result.outputs["repository_url"] = registry.repository.repository_url
    if settings.registry_only:
        return result
    calls = CallTable(f"{app.prefix}-calls", CallStoreArgs(table_name=f"{app.prefix}-calls",
                                                           payload_expiry_days=settings.payload_expiry_days), opts=opts)
    secrets = Secrets(f"{app.prefix}-secrets", SecretsArgs(names=app.secrets, path_prefix=f"toolkit/{app.prefix}"), opts=opts)
    zones = ZoneLookup(providers.default)
    state = AppState(f"{app.prefix}-state", AppStateArgs(table_name=f"{app.prefix}-state"), opts=opts)
    ctx = AppContext(
        settings=settings, app=app, account_id=account_id, calls=calls, secret_arns=secrets.arns, zones=zones,
        us_east_1=providers.us_east_1, wildcard_cert_arn=_wildcard_certificate(settings, app, zones, providers),
        platform=None, subnet_ids=None, capacity_providers={}, capacity_ready=None, state=state,
        volumes=AppVolumes(f"{app.prefix}-volumes", AppVolumesArgs(prefix=app.prefix), opts=opts)
        if app.needs_volumes else None,
    )
    if app.proxies:
        _proxies(ctx, providers, opts)
    if app.needs_ecs:
        _platform(ctx, registry, providers, opts)
    routes = _alb_routes(app, settings)
    for fn in app.functions:
        args = ToolkitFunctionArgs(plan=fn, context=ctx, alb_route=routes.get(fn.tag))
        result.functions[fn.tag] = ToolkitFunction(fn.name, args, opts=opts)
    result.outputs.update(_outputs(result, calls, secrets, ctx))
    result.outputs.update(_state_outputs(result, state, schedules, account_id, opts))
    result.outputs["volume_bucket"] = ctx.volumes.bucket.bucket if ctx.volumes else None
    result.outputs["proxies"] = {name: egress.public_ip for name, egress in ctx.proxies.items()}  # the static IPs
    # how Function.from_name / App.lookup in any process find and call this stack (runtime/callmap.py)
    call_map = CallMapParameter(f"{app.prefix}-call-map", call_map_args(ctx, result.functions), opts=opts)
    result.outputs["call_map_parameter"] = call_map.parameter.name
    if settings.sandboxes:
        result.outputs["sandboxes"] = _sandboxes(result, ctx, registry, state, providers, opts)
    return result


def _subnet_route_tables(vpc_id: pulumi.Input[str], subnet_ids: pulumi.Input[list[str]],
                         providers: Providers) -> pulumi.Output[list[str]]:
    """The route tables the sandboxes' subnets use: those associated with them, and the VPC's main table
    (subnets without an association use it).  Not every table of the VPC: the gateway endpoints' routes
    would otherwise also take same-region S3 traffic of a proxy's private subnets away from its Elastic IP."""
    def tables(*filters: Any) -> pulumi.Output[list[str]]:
        return aws.ec2.get_route_tables_output(vpc_id=vpc_id, filters=list(filters), opts=_invoke(providers)).ids
    associated = tables({"name": "association.subnet-id", "values": subnet_ids})
    main = tables({"name": "association.main", "values": ["true"]})
    return pulumi.Output.all(associated, main).apply(lambda v: sorted(set(v[0] or []) | set(v[1] or [])))


def _sandboxes(result: DeployResult, ctx: AppContext, registry: ContainerRegistry, state: AppState, providers: Providers,
               opts: pulumi.ResourceOptions) -> dict[str, Any]:
    """``toolkit:sandboxes``: what `toolkit.sandboxes.aws` starts sandboxes into, and the right to do it
    for every function of the app; the outputs are its `AwsSandboxConfig`."""
    settings, prefix = ctx.settings, ctx.app.prefix
    vpc_id, subnet_ids = _network(settings, providers)
    route_tables = _subnet_route_tables(vpc_id, subnet_ids, providers)
    image: pulumi.Input[str] = min(settings.images.values()) if settings.images else \
        registry.repository.repository_url.apply(lambda url: f"{url}:sandbox")
    images, gpu_images = sandbox_images(ctx.app.functions, ctx.capacity_providers, ctx.app.sandbox_images)
    sandboxes = AppSandboxes(f"{prefix}-sandboxes", AppSandboxesArgs(
        prefix=prefix, region=settings.region, account_id=ctx.account_id, vpc_id=vpc_id, subnet_ids=subnet_ids,
        route_table_ids=route_tables, image=image,
        repository_arns=[registry.repository.arn, *_repositories([*(i.uri for i in images), *(g.uri for g in gpu_images)])],
        table_name=state.table.name, table_arn=state.table.arn, images=images, gpu_images=gpu_images,
        gpu_cluster_name=ctx.platform.cluster.name if ctx.platform else None,
        gpu_cluster_arn=ctx.platform.cluster.arn if ctx.platform else None, volumes=ctx.volumes,
        volume_names=sorted({v for fn in ctx.app.functions for v in fn.volumes})), opts=opts)
    control = aws.iam.Policy(f"{prefix}-sandbox-control", policy=sandboxes.control_policy(),
                             opts=pulumi.ResourceOptions(parent=sandboxes))
    for tag, fn in result.functions.items():
        aws.iam.RolePolicyAttachment(f"{prefix}-{tag}-sandbox-control", role=fn.role.name, policy_arn=control.arn,
                                     opts=pulumi.ResourceOptions(parent=fn))
    outputs = {"cluster": sandboxes.cluster.name, "task_definition": sandboxes.task_definition.arn,
               "container": SANDBOX_CONTAINER, "table": state.table.name, "subnets": subnet_ids,
               "open_security_group": sandboxes.open_security_group.id,
               "blocked_security_group": sandboxes.blocked_security_group.id, "queue_prefix": f"{prefix}-sb-",
               "assign_public_ip": not settings.private_subnets, "vpc_id": vpc_id,
               "images": sandboxes.images_output(), "gpu": sandboxes.gpu_output(),
               "volumes": sorted({v for fn in ctx.app.functions for v in fn.volumes}) if sandboxes.volumes_task_role
               else [], "volumes_task_role": sandboxes.volumes_task_role.arn if sandboxes.volumes_task_role else ""}
    # how toolkit.Sandbox inside a deployed function finds them (toolkit.sandboxes.aws.deployed_sandboxes)
    aws.dynamodb.TableItem(f"{prefix}-sandbox-config", table_name=state.table.name, hash_key="pk", range_key="sk",
                           item=pulumi.Output.from_input(outputs).apply(lambda v: json.dumps(sandbox_config_item(v))),
                           opts=pulumi.ResourceOptions(parent=sandboxes))
    return {**outputs, "control_policy": control.arn}


def _repositories(uris: list[str]) -> list[str]:
    """The ECR repositories of prebuilt images outside the app's own (the sandbox execution role pulls them)."""
    return sorted({arn for uri in uris if (arn := ecr_arn_from_image(uri))})


def _state_outputs(result: DeployResult, state: AppState, plans: tuple[SchedulePlan, ...],
                   account_id: pulumi.Output[str], opts: pulumi.ResourceOptions) -> dict[str, Any]:
    """Dicts and Queues, and the EventBridge schedules of ``schedule=`` functions (`infra.schedules`)."""
    outputs: dict[str, Any] = {"state_table": state.table.name, "state_bucket": state.bucket.bucket, "schedules": {}}
    if plans:
        functions = result.functions
        targets = {p.tag: functions[p.tag].lambda_function.alias.arn if p.target == "lambda"
                   else functions[p.tag].worker.state_machine.arn for p in plans}
        schedules = AppSchedules(f"{result.plan.prefix}-schedules", AppSchedulesArgs(
            prefix=result.plan.prefix, account_id=account_id, plans=plans, target_arns=targets), opts=opts)
        outputs["schedules"] = schedules.outputs
    return outputs


def _outputs(result: DeployResult, calls: CallTable, secrets: Secrets, ctx: AppContext) -> dict[str, Any]:
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

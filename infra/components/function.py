"""Everything one manifest function gets: logs, role, runner (Lambda or ECS), worker state
machine, front door and custom domains. The wiring order breaks the cycles between them:
the state machine ARN is computed from its fixed name (the role and the env need it before
the state machine exists) and the HTTP API exists before the function (whose env holds its URL).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.components import child
from infra.components.calls import CallTable
from infra.components.cdn import CustomDomainFront, CustomDomainFrontArgs
from infra.components.domains import ZoneLookup, alias_records
from infra.components.ecs import EcsFunction, EcsFunctionArgs, EcsPlatform, network_mode
from infra.components.http_api import HttpApi, HttpApiArgs, HttpRoute, HttpRouteArgs
from infra.components.identity import FunctionRole, FunctionRoleArgs
from infra.components.lambda_function import (
    ALIAS_NAME,
    LambdaFunction,
    LambdaFunctionArgs,
    StreamingUrl,
    StreamingUrlArgs,
)
from infra.components.proxy import ProxyEgress, grant_vpc_access
from infra.components.state import AppState, grant_state
from infra.components.volumes import AppVolumes, grant_bucket_mounts, grant_volumes
from infra.components.workflow import EcsWorkerArgs, WorkerArgs, WorkerStateMachine
from infra.config import Settings
from infra.dns import origin_domain, zone_for
from infra.naming import partition, physical_name, slug
from infra.plan import AppPlan, FunctionPlan, log_group_name
from infra.policies import AppReads
from runtime.callmap import parameter_name
from runtime.environment import MANIFEST_PATH, ContainerEnv, variables

__all__ = [
    "MANIFEST_PATH",
    "AlbRoute",
    "AppContext",
    "ToolkitFunction",
    "ToolkitFunctionArgs",
    "alb_origin_domain",
    "states_log_group_name",
]


@dataclass
class AppContext:
    """Shared resources every function component wires into."""

    settings: Settings
    app: AppPlan
    account_id: pulumi.Output[str]
    calls: CallTable
    secret_arns: dict[str, pulumi.Output[str]]
    zones: ZoneLookup
    us_east_1: aws.Provider
    wildcard_cert_arn: pulumi.Output[str] | None
    platform: EcsPlatform | None
    subnet_ids: pulumi.Input[list[str]] | None
    capacity_providers: dict[str, pulumi.Output[str]]  # tag -> GPU capacity provider name
    capacity_ready: pulumi.Resource | None  # the cluster's capacity provider association
    state: AppState | None = None  # the app's Dicts and Queues (infra/components/state.py)
    volumes: AppVolumes | None = None  # the app's volume bucket, when a function mounts one
    proxies: dict[str, ProxyEgress] = field(default_factory=dict)  # proxy name -> its NAT gateway and subnets

    def arn(self, service: str, resource: str) -> pulumi.Output[str]:
        region = self.settings.region
        return self.account_id.apply(lambda account: f"arn:{partition(region)}:{service}:{region}:{account}:{resource}")

    def call_map_parameter(self) -> str:
        """The SSM parameter of the app's call map, named after the Pulumi project and stack (``toolkit-<app>``
        and ``<env>-<region>`` under ``toolkit deploy``): a lookup derives it from the app's name alone."""
        return parameter_name(self.settings.project or f"toolkit-{slug(self.app.app)}", self.settings.stack)

    def app_reads(self) -> pulumi.Output[AppReads]:
        """What the SDK inside a function reads about its own app (infra.policies.AppReads)."""
        region, prefix, parameter = self.settings.region, self.app.prefix, self.call_map_parameter()

        def reads(account: str) -> AppReads:
            head = f"arn:{partition(region)}:{{}}:{region}:{account}:"
            return AppReads(call_map_arn=head.format("ssm") + f"parameter{parameter}",  # the name starts with /
                            functions_arn=head.format("lambda") + f"function:{prefix}-*",
                            lambda_logs_arn=head.format("logs") + f"log-group:/aws/lambda/{prefix}-*")

        return self.account_id.apply(reads)

    def workspace_zone(self) -> pulumi.Output[str]:
        assert self.settings.base_domain
        return self.zones.zone_id(self.settings.hosted_zone or self.settings.base_domain)

    def zone_id_for(self, domain: str) -> pulumi.Output[str]:
        return self.zones.zone_id(zone_for(domain, self.settings.hosted_zone))

    def worker_arn(self, plan: FunctionPlan) -> pulumi.Output[str]:
        """From the fixed name, so no function waits on another's resources (no cycles)."""
        return self.arn("states", f"stateMachine:{worker_name(plan)}")

    def invoke_arn(self, plan: FunctionPlan) -> pulumi.Output[str] | None:
        """The Lambda alias ``.remote()`` invokes; None where calls go through the worker (ECS, > 15 min)."""
        if not (plan.has_lambda and plan.worker == "lambda"):
            return None
        return self.arn("lambda", f"function:{plan.name}:{ALIAS_NAME}")

    def callable_functions(self) -> list[FunctionPlan]:
        """Functions other functions may ``.remote/.spawn/.map`` (web endpoints are called over HTTP)."""
        return [f for f in self.app.functions if f.web is None]

    def function_targets(self) -> pulumi.Output[str]:
        """``TOOLKIT_FUNCTION_TARGETS``: JSON ``{tag: {"lambda_arn", "state_machine_arn"}}``."""
        plans = self.callable_functions()
        values = pulumi.Output.all(*[pulumi.Output.all(self.invoke_arn(f), self.worker_arn(f)) for f in plans])
        return values.apply(lambda arns: json.dumps(
            {f.tag: {"lambda_arn": a[0], "state_machine_arn": a[1]} for f, a in zip(plans, arns, strict=True)},
            separators=(",", ":"),  # Lambda caps all variables at 4 KB together
        ))


def worker_name(plan: FunctionPlan) -> str:
    return physical_name(plan.name, "worker", max_len=80)


def alb_origin_domain(plan: FunctionPlan, settings: Settings) -> str | None:
    """The name CloudFront reaches an ALB endpoint by, over HTTPS, when no base domain gives it
    a workspace host: ``<host>.<zone of its first custom domain>`` (certificate: infra/stack.py)."""
    if settings.base_domain or not plan.has_service or not (plan.web and plan.web.custom_domains):
        return None
    return origin_domain(plan.web.host, plan.web.custom_domains[0], settings.hosted_zone)


def states_log_group_name(plan: FunctionPlan) -> str:
    """Step Functions delivers logs through CloudWatch vended logs: under ``/aws/vendedlogs/`` it
    needs no entry in the account's CloudWatch Logs resource policy, which is capped at 5,120
    characters and otherwise grows by one log group ARN per state machine until creation fails."""
    return f"/aws/vendedlogs/states/{plan.name}"


@dataclass(frozen=True)
class AlbRoute:
    """How the shared ALB reaches one ECS endpoint (infra/alb.py): a host rule's priority with a
    base domain, else a listener port of its own."""

    priority: int = 10
    port: int | None = None


@dataclass
class ToolkitFunctionArgs:
    plan: FunctionPlan
    context: AppContext
    alb_route: AlbRoute | None = None  # ECS endpoints only


class ToolkitFunction(pulumi.ComponentResource):
    url: pulumi.Output[str] | None = None
    outputs: dict[str, pulumi.Input[object]]

    def __init__(self, name: str, args: ToolkitFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:function:ToolkitFunction", name, None, opts)
        plan, ctx = args.plan, args.context
        self.name, self.plan, self.ctx = name, plan, ctx
        self.state_machine_name = worker_name(plan)
        state_machine_arn = ctx.worker_arn(plan)
        callable_functions = ctx.callable_functions()
        self.log_group = self._log_group("logs", self._log_group_name())
        self.states_log_group = self._log_group("states-logs", states_log_group_name(plan))
        self.role = FunctionRole(
            f"{name}-identity",
            FunctionRoleArgs(
                function_name=plan.name,
                log_group_arn=self.log_group.arn,
                table_arn=ctx.calls.table.arn,
                bucket_arn=ctx.calls.bucket.arn,
                state_machine_arn=state_machine_arn,
                executions_arn=ctx.arn("states", f"execution:{self.state_machine_name}:*"),
                secret_arns=[ctx.secret_arns[s] for s in (*plan.secrets, *plan.bucket_secrets)],
                app_state_machine_arns=[ctx.worker_arn(f) for f in callable_functions],
                app_invoke_arns=[arn for f in callable_functions if (arn := ctx.invoke_arn(f)) is not None],
                cluster_arn=ctx.platform.cluster.arn if ctx.platform else None,
                reads=ctx.app_reads(),
            ),
            opts=child(self),
        ).role
        # The container contract (runtime.environment.ContainerEnv), by field; `_set` adds the rest below.
        self.environment: dict[str, pulumi.Input[str]] = variables({
            "manifest": MANIFEST_PATH,
            "function": plan.tag,
            "calls_table": ctx.calls.table.name,
            "payload_bucket": ctx.calls.bucket.bucket,
            "state_machine_arn": state_machine_arn,
            "secret_arns": pulumi.Output.all(*[ctx.secret_arns[s] for s in plan.secrets]).apply(json.dumps),
            "function_targets": ctx.function_targets(),
            "app_name": ctx.app.app,  # an App() without a name in the source (`toolkit deploy --name`) gets it
        })
        if ctx.state is not None:  # Dicts and Queues (runtime.primitives.dynamodb) in the app's state table
            self._set("state_table", ctx.state.table.name)
            self._set("state_bucket", ctx.state.bucket.bucket)
            grant_state(self, f"{name}-state-access", self.role, ctx.state)
        if plan.volumes and ctx.volumes is not None:  # only functions that mount a volume change
            self._set("volume_bucket", ctx.volumes.bucket.bucket)
            grant_volumes(self, f"{name}-volume-access", self.role, ctx.volumes, plan.volumes, plan.read_only_volumes)
        if plan.bucket_mounts:  # CloudBucketMounts (runtime.volumes.buckets): the role's grant, the secrets' ARNs
            grant_bucket_mounts(self, f"{name}-bucket-access", self.role, plan.bucket_mounts, ctx.settings.region)
            names = plan.bucket_secrets
            self._set("bucket_secret_arns", pulumi.Output.all(*[ctx.secret_arns[s] for s in names]).apply(
                lambda arns: json.dumps(dict(zip(names, arns, strict=True)), separators=(",", ":"))))
        if plan.web is not None and plan.web.requires_proxy_auth:
            # Hashes only (sha256 of 256-bit secrets): what the gateway compares in constant time.
            self._set("proxy_tokens", json.dumps(ctx.settings.proxy_tokens, sort_keys=True))
        self.outputs = {"backend": plan.backend, "role_arn": self.role.arn, "log_group": self.log_group.name}
        if plan.has_lambda:
            self._on_lambda()
        else:
            self._on_ecs(args.alb_route or AlbRoute())
        self._custom_domains()
        self.outputs["url"] = self.url
        self.register_outputs(self.outputs)

    def _set(self, field: str, value: pulumi.Input[str]) -> None:
        """One more container variable, named by its `ContainerEnv` field."""
        self.environment[ContainerEnv.name(field)] = value

    def _log_group_name(self) -> str:
        return log_group_name(self.plan, self.ctx.app.prefix)

    def _log_group(self, suffix: str, log_name: str) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{self.name}-{suffix}", name=log_name,
            retention_in_days=self.ctx.settings.log_retention_days, opts=child(self),
        )

    def _worker(self, function_arn: pulumi.Input[str] | None = None, ecs: EcsWorkerArgs | None = None) -> None:
        worker = WorkerStateMachine(
            f"{self.name}-worker",
            WorkerArgs(
                plan=self.plan, state_machine_name=self.state_machine_name, log_group=self.states_log_group,
                region=self.ctx.settings.region, account_id=self.ctx.account_id,
                calls_table_name=self.ctx.calls.table.name, calls_table_arn=self.ctx.calls.table.arn,
                function_arn=function_arn, ecs=ecs,
                # an ECS/GPU function's schedule starts this machine (infra/schedules.py)
                scheduled_app=self.ctx.app.app if self.plan.scheduled and not self.plan.has_lambda else None,
            ),
            opts=child(self),
        )
        self.worker = worker
        self.outputs["state_machine_arn"] = worker.state_machine.arn

    # -- Lambda ---------------------------------------------------------------------------

    def _on_lambda(self) -> None:
        plan = self.plan
        api: HttpApi | None = None
        if plan.web is not None:
            api = self._http_api()
            self.url = api.url
            self._set("web_url", api.url)
        if (budget := plan.stream_budget(self.ctx.settings.origin_read_timeout)) is not None:
            self._set("stream_budget_s", str(budget))  # CloudFront fronts the stream
        vpc_config, grants = self._vpc_config()
        fn = LambdaFunction(
            f"{self.name}-lambda",
            LambdaFunctionArgs(plan=plan, role_arn=self.role.arn, environment=self.environment, log_group=self.log_group,
                               vpc_config=vpc_config, grants=grants),
            opts=child(self),
        )
        self.lambda_function = fn
        self.outputs["function_arn"] = fn.function.arn
        self.outputs["alias_arn"] = fn.alias.arn
        if plan.has_function_url:
            self.streaming_url = StreamingUrl(
                f"{self.name}-stream",
                StreamingUrlArgs(function_name=fn.function.name, alias_name=fn.alias.name),
                opts=child(self),
            )
            self.outputs["stream_url"] = self.streaming_url.url
        if api is not None:
            HttpRoute(
                f"{self.name}-route",
                HttpRouteArgs(api=api, function_name=fn.function.name, alias_name=fn.alias.name, alias_arn=fn.alias.arn),
                opts=child(self),
            )
        if plan.worker == "lambda":
            self._worker(function_arn=fn.alias.arn)

    def _egress(self) -> ProxyEgress | None:
        """The proxy this function sends its traffic through (``proxy=``), declared by the stack."""
        return self.ctx.proxies[self.plan.proxy] if self.plan.proxy else None

    def _vpc_config(self) -> tuple[aws.lambda_.FunctionVpcConfigArgsDict | None, list[pulumi.Resource]]:
        """A Lambda with ``proxy=`` runs in the proxy's private subnets, and its role may manage the ENIs:
        the VPC config and the grant the function must wait for (and outlive: Lambda deletes its ENIs
        with the role's permissions, and ENIs left behind keep the proxy's subnets from being deleted)."""
        egress = self._egress()
        if egress is None:
            return None, []
        grant = grant_vpc_access(self, f"{self.name}-vpc-access", self.role)
        return {"subnet_ids": egress.subnet_ids, "security_group_ids": [egress.security_group.id]}, [grant]

    def _http_api(self) -> HttpApi:
        plan, ctx = self.plan, self.ctx
        assert plan.web is not None
        base = ctx.settings.base_domain
        api = HttpApi(
            f"{self.name}-http",
            HttpApiArgs(
                api_name=plan.name,
                rate_limit=ctx.settings.rate_limit,
                burst_limit=ctx.settings.burst_limit,
                domain=f"{plan.web.host}.{base}" if base else None,
                certificate_arn=ctx.wildcard_cert_arn,
                zone_id=ctx.workspace_zone() if base else None,
            ),
            opts=child(self),
        )
        self.http_api = api
        self.outputs["api_endpoint"] = api.api.api_endpoint
        return api

    # -- ECS ------------------------------------------------------------------------------

    def _on_ecs(self, route: AlbRoute) -> None:
        plan, ctx = self.plan, self.ctx
        platform = ctx.platform
        assert platform is not None and ctx.subnet_ids is not None
        base = ctx.settings.base_domain
        if plan.web is not None:
            assert platform.alb is not None
            # without a domain, the endpoint's own listener port on the ALB (EcsFunction)
            self.url = pulumi.Output.from_input(plan.web.url) if base and plan.web.url else \
                platform.alb.dns_name.apply(lambda dns: f"http://{dns}:{route.port}")
            self._set("web_url", self.url)
        capacity = ctx.capacity_providers.get(plan.tag)
        ecs = EcsFunction(
            f"{self.name}-ecs",
            EcsFunctionArgs(
                plan=plan, platform=platform, role_arn=self.role.arn, environment=self.environment,
                log_group=self.log_group, region=ctx.settings.region, priority=route.priority,
                port=None if base else route.port,
                host_header=f"{plan.web.host}.{base}" if base and plan.web else alb_origin_domain(plan, ctx.settings),
                capacity_provider=capacity, subnet_ids=egress.subnet_ids if (egress := self._egress()) else None,
            ),
            opts=child(self, depends_on=[ctx.capacity_ready] if ctx.capacity_ready else None),
        )
        self.ecs = ecs
        self.outputs["task_definition_arn"] = ecs.task_definition.arn
        if plan.web is not None and base:
            assert platform.alb is not None
            alias_records(self, self.name, f"{plan.web.host}.{base}", ctx.workspace_zone(),
                          platform.alb.dns_name, platform.alb.zone_id, ipv6=False)
        if (origin := alb_origin_domain(plan, ctx.settings)) is not None:
            assert platform.alb is not None
            alias_records(self, f"{self.name}-origin", origin, ctx.zone_id_for(origin),
                          platform.alb.dns_name, platform.alb.zone_id, ipv6=False)
        pass_roles: list[pulumi.Input[str]] = [self.role.arn, platform.execution_role.arn]
        self._worker(ecs=EcsWorkerArgs(
            cluster_arn=platform.cluster.arn, task_definition_arn=ecs.task_definition.arn, container="function",
            subnets=egress.subnet_ids if egress else ctx.subnet_ids,
            security_groups=pulumi.Output.all(platform.task_security_group.id),
            pass_role_arns=pass_roles, capacity_provider=capacity, network_mode=network_mode(plan),
            assign_public_ip=not ctx.settings.private_subnets and egress is None,
        ))

    # -- custom domains -------------------------------------------------------------------

    def _custom_domains(self) -> None:
        plan, ctx = self.plan, self.ctx
        if plan.web is None or not plan.web.custom_domains:
            self.outputs["custom_urls"] = []
            return
        base = ctx.settings.base_domain
        if plan.has_function_url:  # streamed responses, no 30 s cut (see StreamingUrl)
            origin: pulumi.Input[str] = self.streaming_url.host
            https = True
        elif base:
            origin, https = f"{plan.web.host}.{base}", True
        else:  # no base domain: the origin name in the custom domain's zone, over HTTPS to the ALB
            origin_name = alb_origin_domain(plan, ctx.settings)
            assert origin_name is not None
            origin, https = origin_name, True
        front = CustomDomainFront(
            f"{self.name}-front",
            CustomDomainFrontArgs(
                domains=plan.web.custom_domains, origin_host=origin, origin_https=https,
                zone_id_for=ctx.zone_id_for, us_east_1=ctx.us_east_1,
                origin_read_timeout=ctx.settings.origin_read_timeout,
            ),
            opts=child(self),
        )
        self.front = front
        self.outputs["custom_urls"] = [f"https://{d}" for d in plan.web.custom_domains]
        self.outputs["distribution_domain"] = front.distribution.domain_name

"""ECS: the cluster, its load balancer, and functions that run as containers.

Web servers, ``backend="ecs"`` endpoints and GPU endpoints run as ECS services behind one
shared ALB. With a base domain it routes by Host header (``<host>.<baseDomain>``, HTTPS);
without one each endpoint gets its own listener port (``http://<alb dns>:<port>``, see
infra/alb.py), so the URL printed after a deploy answers either way. Workers of long or GPU
functions run as one-off tasks (``ecs:runTask.sync`` from Step Functions) of the same task
definition.

How tasks reach AWS APIs and the internet: Fargate tasks get public IPs in the default VPC
(which has no NAT gateway), or none in private subnets you route through your own NAT
(``toolkit:privateSubnets``). GPU tasks run on EC2 in **bridge** networking: an ``awsvpc``
task on EC2 gets an ENI that can never have a public IP, so in the default VPC it could not
reach DynamoDB, S3 or Step Functions at all. In bridge mode a container shares its instance's
public IP (or your NAT), reaches every AWS API and the internet (model downloads) at no extra
cost, and the ALB reaches it on a dynamic host port (target type ``instance``). What it gives
up: a security group of its own (the instance's applies) -- one GPU task per instance in
practice, since each holds its GPUs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.alb import ENDPOINT_PORTS
from infra.components import child, to_json
from infra.naming import ALB_NAME_MAX, ALB_RESERVED_PREFIXES, ROLE_NAME_MAX, physical_name, unreserved_name
from infra.plan import FunctionPlan
from infra.policies import assume_role, execution_role_policy
from infra.sizing import fargate_ephemeral_gib

__all__ = [
    "CONTAINER_NAME",
    "CONTAINER_PORT",
    "DYNAMIC_HOST_PORTS",
    "HEALTH_PATH",
    "SERVER_COMMAND",
    "EcsFunction",
    "EcsFunctionArgs",
    "EcsPlatform",
    "EcsPlatformArgs",
]

CONTAINER_NAME = "function"
CONTAINER_PORT = 8080
HEALTH_PATH = "/__toolkit/health"
SERVER_COMMAND = ["python", "-m", "runtime.server"]
# Docker's ephemeral host ports for bridge-mode containers (ECS-optimised AMIs use 32768-65535
# at most): the ALB reaches GPU tasks there.
DYNAMIC_HOST_PORTS = (32768, 65535)


@dataclass
class EcsPlatformArgs:
    prefix: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    with_alb: bool
    # the base domain's wildcard, or (no base domain) the CloudFront origin names': enables HTTPS
    certificate_arn: pulumi.Input[str] | None
    alb_subnet_ids: pulumi.Input[list[str]] | None = None  # None: subnet_ids (public subnets)
    assign_public_ip: bool = True  # False: the subnets egress through the user's NAT
    with_gpu: bool = False
    endpoint_ports: bool = False  # no base domain: each endpoint listens on its own port
    repository_arns: list[pulumi.Input[str]] = field(default_factory=list)
    log_group_arns: list[pulumi.Input[str]] = field(default_factory=list)  # may end in "*": a prefix


class EcsPlatform(pulumi.ComponentResource):
    """Cluster, task execution role, task security group and (when needed) the ALB."""

    cluster: aws.ecs.Cluster
    execution_role: aws.iam.Role
    task_security_group: aws.ec2.SecurityGroup
    gpu_security_group: aws.ec2.SecurityGroup | None = None  # GPU instances (bridge-mode tasks)
    alb: aws.lb.LoadBalancer | None = None
    listener: aws.lb.Listener | None = None

    def __init__(self, name: str, args: EcsPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:ecs:EcsPlatform", name, None, opts)
        self.args = args
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster", name=args.prefix,
            settings=[{"name": "containerInsights", "value": "enabled"}], opts=child(self),
        )
        self.execution_role = self._execution_role(name, args)
        alb_sg = self._alb_security_group(name, args) if args.with_alb else None
        self.task_security_group = aws.ec2.SecurityGroup(
            f"{name}-tasks-sg",
            vpc_id=args.vpc_id,
            description="toolkit tasks: only the load balancer may connect",
            ingress=[{"protocol": "tcp", "from_port": CONTAINER_PORT, "to_port": CONTAINER_PORT,
                      "security_groups": [alb_sg.id]}] if alb_sg else [],
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
            opts=child(self),
        )
        if args.with_gpu:
            self.gpu_security_group = self._gpu_security_group(name, args, alb_sg)
        if alb_sg is not None:
            self._load_balancer(name, args, alb_sg)
        self.register_outputs({"cluster_arn": self.cluster.arn})

    def _execution_role(self, name: str, args: EcsPlatformArgs) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{name}-execution-role",
            name=physical_name(args.prefix, "ecs-execution", max_len=ROLE_NAME_MAX),
            assume_role_policy=json.dumps(assume_role("ecs-tasks.amazonaws.com")),
            opts=child(self),
        )
        document = pulumi.Output.all(
            pulumi.Output.all(*args.repository_arns), pulumi.Output.all(*args.log_group_arns)
        ).apply(lambda v: execution_role_policy(repository_arns=list(v[0]), log_group_arns=list(v[1])))
        aws.iam.RolePolicy(f"{name}-execution-policy", role=role.id, policy=to_json(document), opts=child(self))
        return role

    def _gpu_security_group(self, name: str, args: EcsPlatformArgs,
                            alb_sg: aws.ec2.SecurityGroup | None) -> aws.ec2.SecurityGroup:
        low, high = DYNAMIC_HOST_PORTS
        ingress: Any = [{"protocol": "tcp", "from_port": low, "to_port": high, "security_groups": [alb_sg.id]}] \
            if alb_sg else []
        return aws.ec2.SecurityGroup(
            f"{name}-gpu-sg",
            vpc_id=args.vpc_id,
            description="toolkit GPU instances: the load balancer may reach bridge-mode task ports",
            ingress=ingress,
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
            opts=child(self),
        )

    def _alb_security_group(self, name: str, args: EcsPlatformArgs) -> aws.ec2.SecurityGroup:
        def world(low: int, high: int | None = None) -> Any:
            return {"protocol": "tcp", "from_port": low, "to_port": high or low,
                    "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": ["::/0"]}

        # without a certificate every endpoint listens on its own port (infra/alb.py)
        ports = [world(80), world(443)]
        if args.endpoint_ports:
            ports.append(world(ENDPOINT_PORTS.start, ENDPOINT_PORTS.stop - 1))
        return aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            vpc_id=args.vpc_id,
            description="toolkit load balancer: public HTTP(S)",
            ingress=ports,
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
            opts=child(self),
        )

    def _load_balancer(self, name: str, args: EcsPlatformArgs, sg: aws.ec2.SecurityGroup) -> None:
        self.alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=unreserved_name(args.prefix, reserved=ALB_RESERVED_PREFIXES, max_len=ALB_NAME_MAX),
            load_balancer_type="application",
            # internet-facing: it needs public subnets, which task subnets may not be
            subnets=args.alb_subnet_ids if args.alb_subnet_ids is not None else args.subnet_ids,
            security_groups=[sg.id],
            drop_invalid_header_fields=True,
            idle_timeout=300,  # long polls and streams outlive the 60 s default
            opts=child(self),
        )
        not_found: Any = {"type": "fixed-response",
                     "fixed_response": {"content_type": "text/plain", "message_body": "no such endpoint (without a base domain each endpoint has its own port: `toolkit url`)", "status_code": "404"}}
        if args.certificate_arn is None:
            self.listener = aws.lb.Listener(
                f"{name}-http", load_balancer_arn=self.alb.arn, port=80, protocol="HTTP",
                default_actions=[not_found], opts=child(self),
            )
            return
        aws.lb.Listener(
            f"{name}-http", load_balancer_arn=self.alb.arn, port=80, protocol="HTTP",
            default_actions=[{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}],
            opts=child(self),
        )
        self.listener = aws.lb.Listener(
            f"{name}-https", load_balancer_arn=self.alb.arn, port=443, protocol="HTTPS",
            ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06", certificate_arn=args.certificate_arn,
            default_actions=[not_found], opts=child(self),
        )


@dataclass
class EcsFunctionArgs:
    plan: FunctionPlan
    platform: EcsPlatform
    role_arn: pulumi.Input[str]
    environment: Mapping[str, pulumi.Input[str]]
    log_group: aws.cloudwatch.LogGroup
    region: str
    priority: int = 10  # first listener rule priority of this endpoint (infra/alb.py: stable)
    port: int | None = None  # own listener port when no base domain gives it a host
    host_header: str | None = None  # <host>.<baseDomain>, or the CloudFront origin name: an HTTPS rule
    capacity_provider: pulumi.Input[str] | None = None  # GPU functions
    subnet_ids: pulumi.Input[list[str]] | None = None  # proxy=: its private subnets (no public IP); None: the app's


def network_mode(plan: FunctionPlan) -> str:
    """``bridge`` for GPU tasks (EC2: an awsvpc ENI there gets no public IP), ``awsvpc`` on Fargate."""
    return "bridge" if plan.gpu is not None else "awsvpc"


def cpu_architecture(plan: FunctionPlan) -> str:
    return {"x86_64": "X86_64", "arm64": "ARM64"}[plan.architecture]


class EcsFunction(pulumi.ComponentResource):
    task_definition: aws.ecs.TaskDefinition
    service: aws.ecs.Service | None = None

    def __init__(self, name: str, args: EcsFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:ecs:EcsFunction", name, None, opts)
        self.task_definition = self._task_definition(name, args)
        if args.plan.has_service:
            self._service(name, args)
        self.register_outputs({"task_definition_arn": self.task_definition.arn})

    @staticmethod
    def _sizes(plan: FunctionPlan) -> dict[str, object]:
        """Fargate: the task's size is the container's hard limit. GPU (EC2): a reservation only,
        so the container may use its host's memory (a hard limit there would starve the model)."""
        assert plan.task_size is not None, f"{plan.tag}: planned without an ECS task size"
        cpu, memory = plan.task_size
        return {"cpu": cpu, "memoryReservation": memory} if plan.gpu is not None else {"cpu": cpu, "memory": memory}

    @staticmethod
    def _region_env(region: str) -> dict[str, str]:
        """boto3 finds its region in the environment. Fargate sets it; an EC2 (GPU) task would have
        to ask the instance metadata service, which a bridge-mode container cannot reach (hop limit 1)."""
        return {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}

    def _container(self, args: EcsFunctionArgs, log_group: str, env: Mapping[str, str]) -> list[dict[str, object]]:
        plan = args.plan
        bridge = network_mode(plan) == "bridge"
        container: dict[str, object] = {
            "name": CONTAINER_NAME,
            "image": plan.image_uri,
            "essential": True,
            "command": SERVER_COMMAND,
            **self._sizes(plan),
            # bridge: hostPort 0 asks Docker for an ephemeral port, registered with the target group
            "portMappings": [{"containerPort": CONTAINER_PORT, "protocol": "tcp", **({"hostPort": 0} if bridge else {})}],
            "environment": [{"name": k, "value": v} for k, v in sorted({**self._region_env(args.region), **env}.items())],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": log_group, "awslogs-region": args.region, "awslogs-stream-prefix": "function"},
            },
        }
        if plan.gpu is not None:
            container["resourceRequirements"] = [{"type": "GPU", "value": str(plan.gpu.count)}]
        return [container]

    def _task_definition(self, name: str, args: EcsFunctionArgs) -> aws.ecs.TaskDefinition:
        plan = args.plan
        assert plan.task_size is not None
        cpu, memory = plan.task_size
        definitions = pulumi.Output.all(args.log_group.name, dict(args.environment)).apply(
            lambda v: json.dumps(self._container(args, v[0], v[1]))
        )
        gpu = plan.gpu is not None
        return aws.ecs.TaskDefinition(
            f"{name}-task",
            family=plan.name,
            requires_compatibilities=["EC2"] if gpu else ["FARGATE"],
            network_mode=network_mode(plan),
            cpu=None if gpu else str(cpu),
            memory=None if gpu else str(memory),
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": cpu_architecture(plan)},
            execution_role_arn=args.platform.execution_role.arn,
            task_role_arn=args.role_arn,
            container_definitions=definitions,
            ephemeral_storage=None if gpu or not (gib := fargate_ephemeral_gib(plan.ephemeral_disk)) else {"size_in_gib": gib},
            opts=child(self),
        )

    def _service(self, name: str, args: EcsFunctionArgs) -> None:
        plan, platform = args.plan, args.platform
        assert plan.web is not None and platform.alb is not None and platform.listener is not None
        bridge = network_mode(plan) == "bridge"
        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            # a prefix, not a fixed name: a changed port, VPC or target type replaces the group,
            # and the new one is created while the old still exists
            name_prefix="tk-",
            port=CONTAINER_PORT,
            protocol="HTTP",
            target_type="instance" if bridge else "ip",
            vpc_id=platform.args.vpc_id,
            deregistration_delay=30,
            health_check={"path": HEALTH_PATH, "matcher": "200", "interval": 15, "healthy_threshold": 2},
            opts=child(self),
        )
        routes = self._routes(name, args, target_group)
        low, high = plan.service_capacity
        strategies: Any = [{"capacity_provider": args.capacity_provider, "weight": 1}] if args.capacity_provider else None
        balancers: Any = [{"target_group_arn": target_group.arn, "container_name": CONTAINER_NAME,
                           "container_port": CONTAINER_PORT}]
        self.service = aws.ecs.Service(
            f"{name}-service",
            name=plan.name,
            cluster=platform.cluster.arn,
            task_definition=self.task_definition.arn,
            desired_count=low,
            launch_type=None if args.capacity_provider else "FARGATE",
            capacity_provider_strategies=strategies,
            network_configuration=None if bridge else {
                "subnets": platform.args.subnet_ids if args.subnet_ids is None else args.subnet_ids,
                "security_groups": [platform.task_security_group.id],
                "assign_public_ip": platform.args.assign_public_ip and args.subnet_ids is None,
            },
            load_balancers=balancers,
            # A task that never turns healthy rolls the service back to the last working task
            # definition instead of replacing tasks forever, and `pulumi up` waits for steady
            # state, so a crashing image fails the deploy rather than "deploying".
            deployment_circuit_breaker={"enable": True, "rollback": True},
            wait_for_steady_state=True,
            # The runtime reports healthy once the app started (web_server: startup_timeout).
            health_check_grace_period_seconds=int(plan.web.startup_timeout or 0) + 60,
            # The service name is fixed (the autoscaling target names it): when a change forces a
            # new service (launch type -> capacity provider for a GPU), the old one must go first.
            opts=child(self, depends_on=routes, ignore_changes=["desiredCount"], delete_before_replace=True),
        )
        self._autoscaling(name, platform, low, high)

    def _routes(self, name: str, args: EcsFunctionArgs, tg: aws.lb.TargetGroup) -> list[pulumi.Resource]:
        """A listener port of its own without a base domain; a host rule on the shared HTTPS
        listener for the workspace host, or for the CloudFront origin name of custom domains."""
        routes: list[pulumi.Resource] = []
        platform = args.platform
        assert platform.alb is not None
        if args.port is not None:
            routes.append(aws.lb.Listener(
                f"{name}-listener", load_balancer_arn=platform.alb.arn, port=args.port, protocol="HTTP",
                default_actions=[{"type": "forward", "target_group_arn": tg.arn}], opts=child(self),
            ))
        if args.host_header is not None:
            routes += self._listener_rules(name, args, tg)
        return routes

    def _listener_rules(self, name: str, args: EcsFunctionArgs, tg: aws.lb.TargetGroup) -> list[aws.lb.ListenerRule]:
        plan = args.plan
        assert plan.web is not None and args.platform.listener is not None and args.host_header is not None
        forward: Any = [{"type": "forward", "target_group_arn": tg.arn}]
        host = args.host_header
        return [
            aws.lb.ListenerRule(
                f"{name}-rule-0", listener_arn=args.platform.listener.arn,
                priority=args.priority, actions=forward, conditions=[{"host_header": {"values": [host]}}],
                opts=child(self),
            )
        ]

    def _autoscaling(self, name: str, platform: EcsPlatform, low: int, high: int) -> None:
        assert self.service is not None
        target = aws.appautoscaling.Target(
            f"{name}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.all(platform.cluster.name, self.service.name).apply(lambda v: f"service/{v[0]}/{v[1]}"),
            min_capacity=low,
            max_capacity=high,
            opts=child(self),
        )
        aws.appautoscaling.Policy(
            f"{name}-scaling-cpu",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration={
                "predefined_metric_specification": {"predefined_metric_type": "ECSServiceAverageCPUUtilization"},
                "target_value": 60.0,
                "scale_in_cooldown": 120,
                "scale_out_cooldown": 30,
            },
            opts=child(self),
        )

"""ECS: the cluster, its load balancer, and functions that run as containers.

Web servers, ``backend="ecs"`` endpoints and GPU endpoints run as ECS services behind one
shared ALB that routes by Host header (``<host>.<baseDomain>``). Workers of long or GPU
functions run as one-off tasks (``ecs:runTask.sync`` from Step Functions) of the same task
definition. Tasks get public IPs in the default VPC, which has no NAT gateway.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import child, to_json
from infra.naming import ALB_NAME_MAX, ROLE_NAME_MAX, physical_name
from infra.plan import FunctionPlan
from infra.policies import assume_role, execution_role_policy
from infra.sizing import fargate_size

__all__ = [
    "CONTAINER_NAME",
    "CONTAINER_PORT",
    "HEALTH_PATH",
    "SERVER_COMMAND",
    "TOOLKIT_HOST_HEADER",
    "EcsFunction",
    "EcsFunctionArgs",
    "EcsPlatform",
    "EcsPlatformArgs",
]

CONTAINER_NAME = "function"
CONTAINER_PORT = 8080
HEALTH_PATH = "/__toolkit/health"
SERVER_COMMAND = ["python", "-m", "runtime.server"]
# CloudFront names the endpoint in this header when no base domain gives it a routable host.
TOOLKIT_HOST_HEADER = "X-Toolkit-Host"


@dataclass
class EcsPlatformArgs:
    prefix: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    with_alb: bool
    certificate_arn: pulumi.Input[str] | None  # wildcard of the base domain: enables HTTPS
    repository_arns: list[pulumi.Input[str]]
    log_group_arns: list[pulumi.Input[str]]  # may end in "*": the app's log group prefix


class EcsPlatform(pulumi.ComponentResource):
    """Cluster, task execution role, task security group and (when needed) the ALB."""

    cluster: aws.ecs.Cluster
    execution_role: aws.iam.Role
    task_security_group: aws.ec2.SecurityGroup
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

    def _alb_security_group(self, name: str, args: EcsPlatformArgs) -> aws.ec2.SecurityGroup:
        def world(port: int) -> Any:
            return {"protocol": "tcp", "from_port": port, "to_port": port,
                    "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": ["::/0"]}

        return aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            vpc_id=args.vpc_id,
            description="toolkit load balancer: public HTTP(S)",
            ingress=[world(80), world(443)],
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
            opts=child(self),
        )

    def _load_balancer(self, name: str, args: EcsPlatformArgs, sg: aws.ec2.SecurityGroup) -> None:
        self.alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=physical_name(args.prefix, max_len=ALB_NAME_MAX),
            load_balancer_type="application",
            subnets=args.subnet_ids,
            security_groups=[sg.id],
            drop_invalid_header_fields=True,
            idle_timeout=300,  # long polls and streams outlive the 60 s default
            opts=child(self),
        )
        not_found: Any = {"type": "fixed-response",
                     "fixed_response": {"content_type": "text/plain", "message_body": "no such endpoint", "status_code": "404"}}
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
    index: int  # position among ALB services: listener rule priorities
    host_header: str | None = None  # <host>.<baseDomain>, or None: "<host>.*"
    capacity_provider: pulumi.Input[str] | None = None  # GPU functions


class EcsFunction(pulumi.ComponentResource):
    task_definition: aws.ecs.TaskDefinition
    service: aws.ecs.Service | None = None

    def __init__(self, name: str, args: EcsFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:ecs:EcsFunction", name, None, opts)
        self.task_definition = self._task_definition(name, args)
        if args.plan.has_service:
            self._service(name, args)
        self.register_outputs({"task_definition_arn": self.task_definition.arn})

    def _container(self, args: EcsFunctionArgs, log_group: str, env: Mapping[str, str]) -> list[dict[str, object]]:
        plan = args.plan
        cpu, memory = fargate_size(plan.cpu, plan.memory)
        container: dict[str, object] = {
            "name": CONTAINER_NAME,
            "image": plan.image_uri,
            "essential": True,
            "command": SERVER_COMMAND,
            "cpu": cpu,
            "memory": memory,
            "portMappings": [{"containerPort": CONTAINER_PORT, "protocol": "tcp"}],
            "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
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
        cpu, memory = fargate_size(plan.cpu, plan.memory)
        definitions = pulumi.Output.all(args.log_group.name, dict(args.environment)).apply(
            lambda v: json.dumps(self._container(args, v[0], v[1]))
        )
        gpu = plan.gpu is not None
        return aws.ecs.TaskDefinition(
            f"{name}-task",
            family=plan.name,
            requires_compatibilities=["EC2"] if gpu else ["FARGATE"],
            network_mode="awsvpc",
            cpu=None if gpu else str(cpu),
            memory=None if gpu else str(memory),
            execution_role_arn=args.platform.execution_role.arn,
            task_role_arn=args.role_arn,
            container_definitions=definitions,
            ephemeral_storage=None if gpu or not plan.ephemeral_disk else {"size_in_gib": max(21, plan.ephemeral_disk // 1024)},
            opts=child(self),
        )

    def _service(self, name: str, args: EcsFunctionArgs) -> None:
        plan, platform = args.plan, args.platform
        assert plan.web is not None and platform.alb is not None and platform.listener is not None
        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            name=physical_name(plan.name, max_len=ALB_NAME_MAX),
            port=CONTAINER_PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=platform.args.vpc_id,
            deregistration_delay=30,
            health_check={"path": HEALTH_PATH, "matcher": "200", "interval": 15, "healthy_threshold": 2},
            opts=child(self),
        )
        rules = self._listener_rules(name, args, target_group)
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
            network_configuration={
                "subnets": platform.args.subnet_ids,
                "security_groups": [platform.task_security_group.id],
                "assign_public_ip": args.capacity_provider is None,  # EC2 awsvpc tasks cannot
            },
            load_balancers=balancers,
            # The runtime reports healthy once the app started (web_server: startup_timeout).
            health_check_grace_period_seconds=int(plan.web.startup_timeout or 0) + 60,
            opts=child(self, depends_on=rules, ignore_changes=["desiredCount"]),
        )
        self._autoscaling(name, platform, low, high)

    def _listener_rules(self, name: str, args: EcsFunctionArgs, tg: aws.lb.TargetGroup) -> list[aws.lb.ListenerRule]:
        plan = args.plan
        assert plan.web is not None and args.platform.listener is not None
        forward: Any = [{"type": "forward", "target_group_arn": tg.arn}]
        host = args.host_header or f"{plan.web.host}.*"
        conditions: list[Any] = [[{"host_header": {"values": [host]}}]]
        if plan.web.custom_domains:
            conditions.append([{"http_header": {"http_header_name": TOOLKIT_HOST_HEADER, "values": [plan.web.host]}}])
        return [
            aws.lb.ListenerRule(
                f"{name}-rule-{i}", listener_arn=args.platform.listener.arn,
                priority=10 * (args.index + 1) + i, actions=forward, conditions=condition, opts=child(self),
            )
            for i, condition in enumerate(conditions)
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

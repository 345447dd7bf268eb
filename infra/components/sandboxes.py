"""Sandboxes on AWS, planned: what `toolkit.sandboxes.aws` starts tasks into.

One cluster of the app's sandboxes, Fargate task definitions (the app's image as the default, and
one per distinct image of the app's functions or declared for sandboxes (`toolkit.sandboxes.declared`), so ``Sandbox.create(image=...)`` runs the image asked
for: each is built with toolkit's runtime layer, which carries the agent; the command, cpu and
memory come per sandbox in RunTask's overrides), a GPU task definition per ``gpu=`` function (its
image, bridge mode, on its EC2 capacity provider in the app's cluster), a task role that may only use the
exec channel (`runtime.sandbox_agent`), an execution role that may only pull the image and
write the log group, and two security groups: ``open`` (egress anywhere, no ingress) and
``blocked`` for ``block_network=True`` (egress only on 443 to the channel's VPC endpoints: SQS,
CloudWatch Logs, and DynamoDB's gateway endpoint; and to what Fargate needs to start the task at
all: ECR's two interface endpoints and S3's gateway endpoint, where image layers live -- from
platform 1.4.0 on, image pulls and awslogs go through the task's own ENI and security group), so a
blocked sandbox reaches nothing but the AWS APIs its agent and its start need.  Nothing may connect
into a sandbox: there is no ingress rule on its groups.  The interface endpoints have private DNS,
which answers for the whole VPC: every client in it (the app's tasks, proxied Lambdas, GPU
instances, whatever else runs in a default VPC) now reaches SQS, Logs and ECR through them, so
their security group admits 443 from the VPC's range, not only from blocked sandboxes.
When the app's functions mount volumes, a second task role (the channel plus those volumes) is what
RunTask passes for a sandbox created with ``volumes=``; no other sandbox can reach a volume.

`sandbox_control_policy` is what a caller (a function of the app, or the user's machine) needs
to create, drive and stop sandboxes; `sandbox_task_policy` is the task's own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import child, to_json
from infra.components.volumes import AppVolumes, grant_volumes
from infra.gpu import GpuSelection
from infra.plan import FunctionPlan
from infra.policies import assume_role, execution_role_policy
from runtime.environment import SANDBOX_TUNNEL_TAG as TUNNEL_TAG
from runtime.environment import ContainerEnv

__all__ = ["AGENT_ENTRYPOINT", "SANDBOX_CONTAINER", "AppSandboxes", "AppSandboxesArgs", "GpuSandboxImage", "SandboxImage",
           "sandbox_control_policy", "sandbox_images", "sandbox_task_policy"]

SANDBOX_CONTAINER = "sandbox"
AGENT_ENTRYPOINT = ("python3", "-m", "runtime.sandbox_agent")  # RunTask's command: the agent's arguments
CHANNEL_KEYS = ["sandbox#*", "sandboxes#*"]  # the state table's sandbox items (toolkit.sandboxes.aws)
HTTPS = 443
# What a blocked sandbox reaches: its agent's channel (SQS, Logs, DynamoDB) and, for Fargate to pull its
# image through the task's ENI, ECR's API and registry plus S3 (the layers): ECS developer guide,
# "Migrating to Linux platform version 1.4.0".
INTERFACE_ENDPOINTS = ("sqs", "logs", "ecr.api", "ecr.dkr")
GATEWAY_ENDPOINTS = ("dynamodb", "s3")
LOG_RETENTION_DAYS = 14


def queue_arn_pattern(region: str, account: str, prefix: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{prefix}-sb-*"


def sandbox_task_policy(*, table_arn: str, queue_arns: str) -> dict[str, Any]:
    """The agent's calls only: receive/delete its queue's messages, put channel items (never the
    app's Dicts, Queues or calls: the leading-key condition keeps it to ``sandbox#...`` items)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": [queue_arns]},
        {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": [table_arn],
         "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["sandbox#*"]}}},
    ]}


def _family(task_definition_arn: str) -> str:
    return task_definition_arn.rsplit(":", 1)[0] + ":*"


def _tasks(cluster_arn: str) -> str:
    return cluster_arn.replace(":cluster/", ":task/") + "/*"


MAX_LISTED_FAMILIES = 24  # beyond it the per-image families collapse into one pattern (policy size)


def _families(default_arn: str, others: list[str]) -> list[str]:
    """``RunTask``'s resources: each planned family by name.  A managed policy holds 6,144 characters, so
    past `MAX_LISTED_FAMILIES` the per-image families (``<prefix>-sandbox-<hash>``, all planned by this
    component) become ``<prefix>-sandbox-*``; the GPU families stay listed."""
    default = _family(default_arn)
    families = sorted({_family(arn) for arn in others} - {default})
    if len(families) > MAX_LISTED_FAMILIES:
        image_prefix = default.removesuffix(":*") + "-"
        families = sorted({f for f in families if not f.startswith(image_prefix)} | {image_prefix + "*:*"})
    return [default, *families]


def sandbox_control_policy(*, cluster_arn: str, task_definition_arn: str, table_arn: str, queue_arns: str,
                           pass_role_arns: list[str], vpc_arn: str = "", tunnel_tag: str = "",
                           other_task_definition_arns: list[str] | None = None,
                           gpu_cluster_arn: str | None = None, log_group_arn: str = "") -> dict[str, Any]:
    """What `AwsSandboxes` calls: RunTask of the planned task definitions (tags included) on the sandbox
    cluster (and the app's cluster, where GPU capacity is), Stop/Describe on those clusters' tasks, its
    per-sandbox queues, the sandbox items of the app's table, and the tunnel security groups it makes
    (only groups tagged ``toolkit:sandbox-tunnel=<tunnel_tag>`` may be opened or deleted)."""
    families = _families(task_definition_arn, other_task_definition_arns or [])
    clusters = sorted({cluster_arn, *([gpu_cluster_arn] if gpu_cluster_arn else [])})
    groups = vpc_arn.split(":vpc/")[0] + ":security-group/*" if vpc_arn else ""
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": families,
         "Condition": {"ArnEquals": {"ecs:cluster": clusters}}},
        {"Effect": "Allow", "Action": ["ecs:TagResource"], "Resource": [_tasks(c) for c in clusters],
         "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}}},
        {"Effect": "Allow", "Action": ["ecs:StopTask", "ecs:DescribeTasks"], "Resource": [_tasks(c) for c in clusters]},
        {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": sorted(pass_role_arns),
         "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
        {"Effect": "Allow", "Action": ["sqs:CreateQueue", "sqs:TagQueue", "sqs:SendMessage", "sqs:DeleteQueue"],
         "Resource": [queue_arns]},
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
                                       "dynamodb:Query"], "Resource": [table_arn],
         "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": CHANNEL_KEYS}}},
    ]
    if log_group_arn:  # sb.logs: the sandboxes' log group only (toolkit.sandboxes.aws_logs)
        group = log_group_arn.removesuffix(":*")
        statements.append({"Effect": "Allow", "Action": ["logs:FilterLogEvents"], "Resource": [group, group + ":*"]})
    if vpc_arn:
        statements += _tunnel_statements(vpc_arn, groups, tunnel_tag)
    return {"Version": "2012-10-17", "Statement": statements}


def _tunnel_statements(vpc_arn: str, groups: str, tag: str) -> list[dict[str, Any]]:
    """A sandbox's own security group (`toolkit.sandboxes.aws_network`): made only in the app's VPC and
    only with the tunnel tag; opened and deleted only when it carries that tag.  The two Describe calls
    support no resource-level permissions, so their resource is ``*`` (their actions are named)."""
    tagged = {"StringEquals": {f"aws:ResourceTag/{TUNNEL_TAG}": tag}}
    return [
        {"Effect": "Allow", "Action": ["ec2:CreateSecurityGroup"], "Resource": [vpc_arn]},
        {"Effect": "Allow", "Action": ["ec2:CreateSecurityGroup"], "Resource": [groups],
         "Condition": {"StringEquals": {f"aws:RequestTag/{TUNNEL_TAG}": tag}}},
        {"Effect": "Allow", "Action": ["ec2:CreateTags"], "Resource": [groups],
         "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}}},
        {"Effect": "Allow", "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:DeleteSecurityGroup"],
         "Resource": [groups], "Condition": tagged},
        {"Effect": "Allow", "Action": ["ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces"],
         "Resource": ["*"]},
    ]


@dataclass(frozen=True)
class SandboxImage:
    """An image sandboxes may ask for: a function's image, built with toolkit's runtime (the agent)."""

    key: str   # the image's spec hash (toolkit.Image.spec_hash): what Sandbox.create(image=...) is matched by
    uri: str


@dataclass(frozen=True)
class GpuSandboxImage:
    """A ``gpu=`` function's image on its capacity provider: a GPU sandbox's task definition."""

    function: str                          # the function's physical name (names the family)
    key: str
    uri: str
    gpu: GpuSelection
    task_size: tuple[int, int]             # (cpu units, memory MiB reserved), the function's own
    capacity_provider: pulumi.Input[str]


def sandbox_images(functions: Sequence[FunctionPlan], capacity_providers: Mapping[str, pulumi.Input[str]],
                   declared: Sequence[tuple[str, str]] = ()) -> tuple[list[SandboxImage], list[GpuSandboxImage]]:
    """One Fargate image per distinct image key (a CPU build preferred), one GPU image per ``gpu=`` function;
    ``declared`` (`infra.plan.AppPlan.sandbox_images`) adds the images built only for sandboxes."""
    cpu: dict[str, str] = dict(declared)
    for fn in sorted(functions, key=lambda f: f.gpu is not None):  # CPU builds first: they win a shared key
        if fn.image_key and fn.image_uri:
            cpu.setdefault(fn.image_key, fn.image_uri)
    gpu = [GpuSandboxImage(fn.name, fn.image_key, fn.image_uri, fn.gpu, fn.task_size, capacity_providers[fn.tag])
           for fn in functions if fn.gpu is not None and fn.task_size and fn.image_uri and fn.tag in capacity_providers]
    return [SandboxImage(k, u) for k, u in sorted(cpu.items())], gpu


@dataclass
class AppSandboxesArgs:
    prefix: str
    region: str
    account_id: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    route_table_ids: pulumi.Input[list[str]]   # DynamoDB's gateway endpoint is a route in these
    image: pulumi.Input[str]                   # the app's image (it carries runtime.sandbox_agent)
    repository_arns: list[pulumi.Input[str]]
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    cpu: int = 1024                            # the task definition's default; RunTask overrides per sandbox
    memory: int = 2048
    endpoint_subnet_ids: pulumi.Input[list[str]] | None = None  # None: subnet_ids
    tags: dict[str, str] = field(default_factory=dict)
    images: Sequence[SandboxImage] = ()            # image=: a task definition each (`sandbox_images`)
    gpu_images: Sequence[GpuSandboxImage] = ()     # gpu=: a task definition each, run in gpu_cluster
    gpu_cluster_name: pulumi.Input[str] | None = None
    gpu_cluster_arn: pulumi.Input[str] | None = None
    volumes: AppVolumes | None = None          # the app's volume bucket (infra/components/volumes.py)
    volume_names: Sequence[str] = ()           # volumes= of a sandbox: those the app's functions mount


class AppSandboxes(pulumi.ComponentResource):
    cluster: aws.ecs.Cluster
    task_definition: aws.ecs.TaskDefinition
    task_role: aws.iam.Role
    execution_role: aws.iam.Role
    open_security_group: aws.ec2.SecurityGroup
    blocked_security_group: aws.ec2.SecurityGroup
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: AppSandboxesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:sandboxes:AppSandboxes", name, None, opts)
        self.args = args
        self.queue_arns = pulumi.Output.from_input(args.account_id).apply(
            lambda account: queue_arn_pattern(args.region, account, args.prefix))
        self.cluster = aws.ecs.Cluster(f"{name}-cluster", name=f"{args.prefix}-sandboxes", opts=child(self))
        self.log_group = aws.cloudwatch.LogGroup(f"{name}-logs", name=f"/toolkit/{args.prefix}/sandboxes",
                                                 retention_in_days=LOG_RETENTION_DAYS, opts=child(self))
        self.execution_role = self._execution_role(name)
        self.task_role = self._task_role(name)
        self.volumes_task_role = self._volumes_task_role(name)
        self._security_groups(name)
        self.task_definition = self._fargate_task_definition(f"{name}-task", f"{args.prefix}-sandbox", args.image)
        # image=: one per image key (a short hash in the family: families are at most 255 characters)
        self.image_task_definitions = {
            image.key: self._fargate_task_definition(f"{name}-task-{image.key[:12]}",
                                                     f"{args.prefix}-sandbox-{image.key[:12]}", image.uri)
            for image in args.images}
        self.gpu_task_definitions = [(image, self._gpu_task_definition(name, image)) for image in args.gpu_images]
        self.register_outputs({"cluster": self.cluster.name, "task_definition": self.task_definition.arn,
                               "volumes_task_role": self.volumes_task_role.arn if self.volumes_task_role else "",
                               "open_security_group": self.open_security_group.id,
                               "blocked_security_group": self.blocked_security_group.id,
                               "images": self.images_output(), "gpu": self.gpu_output()})

    def images_output(self) -> pulumi.Output[dict[str, str]]:
        """image spec hash -> task definition ARN: `toolkit.sandboxes.aws_launch.Planned.images`."""
        keys = list(self.image_task_definitions)
        arns = [self.image_task_definitions[k].arn for k in keys]
        return pulumi.Output.all(*arns).apply(lambda values: dict(zip(keys, values, strict=True)))

    def gpu_output(self) -> pulumi.Output[list[dict[str, Any]]]:
        """The GPU variants: `toolkit.sandboxes.aws_launch.GpuVariant` each."""
        def variant(image: GpuSandboxImage, task: aws.ecs.TaskDefinition) -> pulumi.Output[dict[str, Any]]:
            return pulumi.Output.all(task.arn, image.capacity_provider, self.args.gpu_cluster_name).apply(
                lambda v: {"gpu": image.gpu.name, "count": image.gpu.count, "image": image.key,
                           "task_definition": v[0], "capacity_provider": v[1], "cluster": v[2]})
        return pulumi.Output.all(*[variant(i, t) for i, t in self.gpu_task_definitions]).apply(list)

    def _role(self, name: str, suffix: str) -> aws.iam.Role:
        return aws.iam.Role(f"{name}-{suffix}", name=f"{self.args.prefix}-sb-{suffix}"[:64],
                            assume_role_policy=json.dumps(assume_role("ecs-tasks.amazonaws.com")), opts=child(self))

    def _execution_role(self, name: str) -> aws.iam.Role:
        role = self._role(name, "execution")
        document = pulumi.Output.all(pulumi.Output.all(*self.args.repository_arns), self.log_group.arn).apply(
            lambda v: execution_role_policy(repository_arns=list(v[0]), log_group_arns=[v[1]]))
        aws.iam.RolePolicy(f"{name}-execution-policy", role=role.id, policy=to_json(document), opts=child(self))
        return role

    def _task_role(self, name: str) -> aws.iam.Role:
        role = self._role(name, "task")
        document = pulumi.Output.all(self.args.table_arn, self.queue_arns).apply(
            lambda v: sandbox_task_policy(table_arn=v[0], queue_arns=v[1]))
        aws.iam.RolePolicy(f"{name}-task-policy", role=role.id, policy=to_json(document), opts=child(self))
        return role

    def _volumes_task_role(self, name: str) -> aws.iam.Role | None:
        """The task role of a sandbox created with ``volumes=`` (RunTask's taskRoleArn override): the channel,
        plus read/write of the volumes the app's functions mount.  Sandboxes without volumes never get it."""
        args = self.args
        if args.volumes is None or not args.volume_names:
            return None
        role = self._role(name, "task-volumes")
        document = pulumi.Output.all(args.table_arn, self.queue_arns).apply(
            lambda v: sandbox_task_policy(table_arn=v[0], queue_arns=v[1]))
        aws.iam.RolePolicy(f"{name}-task-volumes-policy", role=role.id, policy=to_json(document), opts=child(self))
        grant_volumes(self, f"{name}-task-volumes-access", role, args.volumes, sorted(set(args.volume_names)))
        return role

    def _security_groups(self, name: str) -> None:
        args = self.args
        self.open_security_group = aws.ec2.SecurityGroup(
            f"{name}-open-sg", vpc_id=args.vpc_id, description="toolkit sandboxes: egress anywhere, nothing in",
            ingress=[], egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
            opts=child(self))
        self.blocked_security_group = aws.ec2.SecurityGroup(
            f"{name}-blocked-sg", vpc_id=args.vpc_id,
            description="toolkit sandboxes with block_network: only the exec channel's AWS endpoints",
            # No inline egress, not even []: its egress is the standalone rules below, and an inline list is
            # authoritative (after a refresh, the next deploy would revoke them).  The provider removes
            # AWS's default allow-all egress when it creates the group.
            ingress=[], opts=child(self))
        # Private DNS makes the interface endpoints the answer for every client of the VPC: all of it may
        # connect (inline, with the blocked group's rule: inline and standalone rules of one group fight).
        vpc_cidr = aws.ec2.get_vpc_output(id=args.vpc_id, opts=pulumi.InvokeOptions(parent=self)).cidr_block
        endpoints_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg", vpc_id=args.vpc_id, description="toolkit sandbox channel endpoints",
            ingress=[{"protocol": "tcp", "from_port": HTTPS, "to_port": HTTPS,
                      "security_groups": [self.blocked_security_group.id]},
                     {"protocol": "tcp", "from_port": HTTPS, "to_port": HTTPS, "cidr_blocks": [vpc_cidr]}],
            egress=[], opts=child(self))
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-blocked-to-endpoints", security_group_id=self.blocked_security_group.id, ip_protocol="tcp",
            from_port=HTTPS, to_port=HTTPS, referenced_security_group_id=endpoints_sg.id, opts=child(self))
        for service in INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}-endpoint", vpc_id=args.vpc_id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface", private_dns_enabled=True, security_group_ids=[endpoints_sg.id],
                subnet_ids=args.endpoint_subnet_ids or args.subnet_ids, opts=child(self))
        for service in GATEWAY_ENDPOINTS:
            gateway = aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint", vpc_id=args.vpc_id, service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Gateway", route_table_ids=args.route_table_ids, opts=child(self))
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-blocked-to-{service}", security_group_id=self.blocked_security_group.id, ip_protocol="tcp",
                from_port=HTTPS, to_port=HTTPS, prefix_list_id=gateway.prefix_list_id, opts=child(self))

    def _container(self, image: pulumi.Input[str], extra: Mapping[str, Any] | None = None,
                   env: Mapping[str, str] | None = None) -> pulumi.Output[str]:
        args = self.args

        def containers(values: list[Any]) -> str:
            uri, log_group, table, bucket = values
            environment = {**ContainerEnv(state_table=table, volume_bucket=bucket or None).to_environ(), **(env or {})}
            return json.dumps([{
                "name": SANDBOX_CONTAINER, "image": uri, "essential": True,
                # the image's own entrypoint serves functions; a sandbox runs the agent around its command
                "entryPoint": list(AGENT_ENTRYPOINT),
                # the agent is not PID 1: the user's processes are reaped and SIGTERM from StopTask reaches it
                "linuxParameters": {"initProcessEnabled": True},
                "stopTimeout": 2,
                "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": log_group, "awslogs-region": args.region, "awslogs-stream-prefix": "sandbox"}},
                **(extra or {}),
            }])

        bucket = args.volumes.bucket.bucket if args.volumes is not None and args.volume_names else None
        return pulumi.Output.all(image, self.log_group.name, args.table_name, bucket).apply(containers)

    def _fargate_task_definition(self, resource: str, family: str, image: pulumi.Input[str]) -> aws.ecs.TaskDefinition:
        args = self.args
        return aws.ecs.TaskDefinition(
            resource, family=family, requires_compatibilities=["FARGATE"],
            network_mode="awsvpc", cpu=str(args.cpu), memory=str(args.memory),
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            execution_role_arn=self.execution_role.arn, task_role_arn=self.task_role.arn,
            container_definitions=self._container(image),
            tags={**args.tags, "toolkit:purpose": "sandbox"}, opts=child(self))

    def _gpu_task_definition(self, name: str, image: GpuSandboxImage) -> aws.ecs.TaskDefinition:
        """EC2 on the GPU instances, bridge mode as the GPU functions run (an awsvpc ENI there gets no public
        IP); the memory is a reservation, the GPUs a resource requirement; the region is in the environment
        because a bridge-mode container cannot reach the instance metadata (hop limit 1)."""
        args = self.args
        cpu, memory = image.task_size
        extra = {"cpu": cpu, "memoryReservation": memory,
                 "resourceRequirements": [{"type": "GPU", "value": str(image.gpu.count)}]}
        region = {"AWS_REGION": args.region, "AWS_DEFAULT_REGION": args.region}
        return aws.ecs.TaskDefinition(
            f"{name}-gpu-{image.function}"[:200], family=f"{image.function}-sandbox"[:255],
            requires_compatibilities=["EC2"], network_mode="bridge",
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            execution_role_arn=self.execution_role.arn, task_role_arn=self.task_role.arn,
            container_definitions=self._container(image.uri, extra, region),
            tags={**args.tags, "toolkit:purpose": "sandbox"}, opts=child(self))

    def control_policy(self) -> pulumi.Output[str]:
        """The caller's policy document (JSON) for this deploy's sandboxes."""
        args = self.args
        others = [t.arn for t in self.image_task_definitions.values()] + [t.arn for _, t in self.gpu_task_definitions]
        vpc_arn = pulumi.Output.all(args.account_id, args.vpc_id).apply(
            lambda v: f"arn:aws:ec2:{args.region}:{v[0]}:vpc/{v[1]}")
        return to_json(pulumi.Output.all(
            self.cluster.arn, self.task_definition.arn, args.table_arn, self.queue_arns, self.task_role.arn,
            self.execution_role.arn, vpc_arn, args.gpu_cluster_arn, pulumi.Output.all(*others),
            self.log_group.arn, self.volumes_task_role.arn if self.volumes_task_role else None).apply(
            lambda v: sandbox_control_policy(cluster_arn=v[0], task_definition_arn=v[1], table_arn=v[2],
                                             queue_arns=v[3], pass_role_arns=[v[4], v[5], *([v[10]] if v[10] else [])],
                                             vpc_arn=v[6],
                                             tunnel_tag=f"{args.prefix}-sb-", gpu_cluster_arn=v[7],
                                             other_task_definition_arns=list(v[8]), log_group_arn=v[9])))

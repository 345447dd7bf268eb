"""Sandboxes on AWS, planned: what `toolkit.sandboxes.aws` starts tasks into.

One cluster of the app's sandboxes, one Fargate task definition (the app's image; the command,
cpu and memory come per sandbox in RunTask's overrides), a task role that may only use the
exec channel (`runtime.sandbox_agent`), an execution role that may only pull the image and
write the log group, and two security groups: ``open`` (egress anywhere, no ingress) and
``blocked`` for ``block_network=True`` (egress only on 443 to the channel's VPC endpoints: SQS,
CloudWatch Logs, and DynamoDB's gateway endpoint), so a blocked sandbox reaches nothing but
the AWS APIs its agent needs.  Nothing may connect in: there is no ingress rule anywhere.

`sandbox_control_policy` is what a caller (a function of the app, or the user's machine) needs
to create, drive and stop sandboxes; `sandbox_task_policy` is the task's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import child, to_json
from infra.policies import assume_role, execution_role_policy
from runtime.environment import ContainerEnv

__all__ = ["AGENT_ENTRYPOINT", "SANDBOX_CONTAINER", "AppSandboxes", "AppSandboxesArgs", "sandbox_control_policy", "sandbox_task_policy"]

SANDBOX_CONTAINER = "sandbox"
AGENT_ENTRYPOINT = ("python3", "-m", "runtime.sandbox_agent")  # RunTask's command: the agent's arguments
CHANNEL_KEYS = ["sandbox#*", "sandboxes#*"]  # the state table's sandbox items (toolkit.sandboxes.aws)
HTTPS = 443
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


def sandbox_control_policy(*, cluster_arn: str, task_definition_arn: str, table_arn: str, queue_arns: str,
                           pass_role_arns: list[str]) -> dict[str, Any]:
    """What `AwsSandboxes` calls: RunTask of this task definition (tags included), Stop/Describe on this
    cluster's tasks, its per-sandbox queues, and the sandbox items of the app's table."""
    family = task_definition_arn.rsplit(":", 1)[0] + ":*"
    tasks = cluster_arn.replace(":cluster/", ":task/") + "/*"
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": [family],
         "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}}},
        {"Effect": "Allow", "Action": ["ecs:TagResource"], "Resource": [tasks],
         "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}}},
        {"Effect": "Allow", "Action": ["ecs:StopTask", "ecs:DescribeTasks"], "Resource": [tasks]},
        {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": sorted(pass_role_arns),
         "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
        {"Effect": "Allow", "Action": ["sqs:CreateQueue", "sqs:TagQueue", "sqs:SendMessage", "sqs:DeleteQueue"],
         "Resource": [queue_arns]},
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
                                       "dynamodb:Query"], "Resource": [table_arn],
         "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": CHANNEL_KEYS}}},
    ]}


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
        self._security_groups(name)
        self.task_definition = self._task_definition(name)
        self.register_outputs({"cluster": self.cluster.name, "task_definition": self.task_definition.arn,
                               "open_security_group": self.open_security_group.id,
                               "blocked_security_group": self.blocked_security_group.id})

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

    def _security_groups(self, name: str) -> None:
        args = self.args
        self.open_security_group = aws.ec2.SecurityGroup(
            f"{name}-open-sg", vpc_id=args.vpc_id, description="toolkit sandboxes: egress anywhere, nothing in",
            ingress=[], egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
            opts=child(self))
        self.blocked_security_group = aws.ec2.SecurityGroup(
            f"{name}-blocked-sg", vpc_id=args.vpc_id,
            description="toolkit sandboxes with block_network: only the exec channel's AWS endpoints",
            ingress=[], egress=[], opts=child(self))
        endpoints_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg", vpc_id=args.vpc_id, description="toolkit sandbox channel endpoints",
            ingress=[{"protocol": "tcp", "from_port": HTTPS, "to_port": HTTPS,
                      "security_groups": [self.blocked_security_group.id]}], egress=[], opts=child(self))
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-blocked-to-endpoints", security_group_id=self.blocked_security_group.id, ip_protocol="tcp",
            from_port=HTTPS, to_port=HTTPS, referenced_security_group_id=endpoints_sg.id, opts=child(self))
        for service in ("sqs", "logs"):
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint", vpc_id=args.vpc_id, service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface", private_dns_enabled=True, security_group_ids=[endpoints_sg.id],
                subnet_ids=args.endpoint_subnet_ids or args.subnet_ids, opts=child(self))
        dynamodb = aws.ec2.VpcEndpoint(
            f"{name}-dynamodb-endpoint", vpc_id=args.vpc_id, service_name=f"com.amazonaws.{args.region}.dynamodb",
            vpc_endpoint_type="Gateway", route_table_ids=args.route_table_ids, opts=child(self))
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-blocked-to-dynamodb", security_group_id=self.blocked_security_group.id, ip_protocol="tcp",
            from_port=HTTPS, to_port=HTTPS, prefix_list_id=dynamodb.prefix_list_id, opts=child(self))

    def _task_definition(self, name: str) -> aws.ecs.TaskDefinition:
        args = self.args

        def containers(values: list[Any]) -> str:
            image, log_group, table = values
            return json.dumps([{
                "name": SANDBOX_CONTAINER, "image": image, "essential": True,
                # the image's own entrypoint serves functions; a sandbox runs the agent around its command
                "entryPoint": list(AGENT_ENTRYPOINT),
                # the agent is not PID 1: the user's processes are reaped and SIGTERM from StopTask reaches it
                "linuxParameters": {"initProcessEnabled": True},
                "stopTimeout": 2,
                "environment": [{"name": k, "value": v}
                                for k, v in ContainerEnv(state_table=table).to_environ().items()],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": log_group, "awslogs-region": args.region, "awslogs-stream-prefix": "sandbox"}},
            }])

        return aws.ecs.TaskDefinition(
            f"{name}-task", family=f"{args.prefix}-sandbox", requires_compatibilities=["FARGATE"],
            network_mode="awsvpc", cpu=str(args.cpu), memory=str(args.memory),
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            execution_role_arn=self.execution_role.arn, task_role_arn=self.task_role.arn,
            container_definitions=pulumi.Output.all(args.image, self.log_group.name, args.table_name).apply(containers),
            tags={**args.tags, "toolkit:purpose": "sandbox"}, opts=child(self))

    def control_policy(self) -> pulumi.Output[str]:
        """The caller's policy document (JSON) for this deploy's sandboxes."""
        return to_json(pulumi.Output.all(self.cluster.arn, self.task_definition.arn, self.args.table_arn,
                                         self.queue_arns, self.task_role.arn, self.execution_role.arn).apply(
            lambda v: sandbox_control_policy(cluster_arn=v[0], task_definition_arn=v[1], table_arn=v[2],
                                             queue_arns=v[3], pass_role_arns=[v[4], v[5]])))

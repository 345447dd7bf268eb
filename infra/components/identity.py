"""One IAM role per function, trusted by Lambda and ECS tasks (a function may run on either:
its web side on one, its worker on the other), allowed only what its code needs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.components import child, to_json
from infra.naming import ROLE_NAME_MAX, physical_name
from infra.policies import AppReads, assume_role, function_policy

__all__ = ["FunctionRole", "FunctionRoleArgs"]


@dataclass
class FunctionRoleArgs:
    function_name: str
    log_group_arn: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    state_machine_arn: pulumi.Input[str]
    executions_arn: pulumi.Input[str]
    secret_arns: list[pulumi.Input[str]]
    # the app's functions this one may call (runtime's cloud runner): workers and Lambda aliases
    app_state_machine_arns: list[pulumi.Input[str]] = field(default_factory=list)
    app_invoke_arns: list[pulumi.Input[str]] = field(default_factory=list)
    # the app's ECS cluster, if it has one: reading a call its task claimed checks the task is alive
    cluster_arn: pulumi.Input[str] | None = None
    # what the SDK reads about the app itself (lookups, FunctionCall.from_id, fn.stats(), fn.logs)
    reads: pulumi.Input[AppReads] | None = None


class FunctionRole(pulumi.ComponentResource):
    role: aws.iam.Role

    def __init__(self, name: str, args: FunctionRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:identity:FunctionRole", name, None, opts)
        self.role = aws.iam.Role(
            f"{name}-role",
            name=physical_name(args.function_name, "fn", max_len=ROLE_NAME_MAX),
            assume_role_policy=json.dumps(assume_role("lambda.amazonaws.com", "ecs-tasks.amazonaws.com")),
            opts=child(self),
        )
        document = pulumi.Output.all(
            args.log_group_arn, args.table_arn, args.bucket_arn, args.state_machine_arn, args.executions_arn,
            pulumi.Output.all(*args.secret_arns),
            pulumi.Output.all(*args.app_state_machine_arns),
            pulumi.Output.all(*args.app_invoke_arns),
            args.cluster_arn,
            args.reads,
        ).apply(
            lambda v: function_policy(
                log_group_arn=v[0], table_arn=v[1], bucket_arn=v[2], state_machine_arn=v[3],
                executions_arn=v[4], secret_arns=list(v[5]), app_state_machine_arns=list(v[6]),
                app_invoke_arns=list(v[7]), cluster_arn=v[8], reads=v[9],
            )
        )
        aws.iam.RolePolicy(f"{name}-policy", role=self.role.id, policy=to_json(document), opts=child(self))
        self.register_outputs({"role_arn": self.role.arn})

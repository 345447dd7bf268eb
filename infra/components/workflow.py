"""The Step Functions (STANDARD) state machine that runs one function's worker, and its role.

A scheduled ECS/GPU function's state machine also records the scheduled runs it is started with
(infra/asl.py ``RecordScheduledCall``): its role may then put items in the calls table too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.asl import EcsTarget, build_definition
from infra.components import child, to_json
from infra.naming import ROLE_NAME_MAX, partition, physical_name
from infra.plan import FunctionPlan
from infra.policies import assume_role, state_machine_policy

__all__ = ["EcsWorkerArgs", "WorkerStateMachine", "WorkerArgs", "records_scheduled_runs"]


@dataclass
class EcsWorkerArgs:
    cluster_arn: pulumi.Input[str]
    task_definition_arn: pulumi.Input[str]
    container: str
    subnets: pulumi.Input[list[str]]
    security_groups: pulumi.Input[list[str]]
    pass_role_arns: list[pulumi.Input[str]]
    capacity_provider: pulumi.Input[str] | None = None
    network_mode: str = "awsvpc"  # "bridge" for GPU tasks: no network configuration in RunTask
    assign_public_ip: bool = True


@dataclass
class WorkerArgs:
    plan: FunctionPlan
    state_machine_name: str
    log_group: aws.cloudwatch.LogGroup
    region: str
    account_id: pulumi.Input[str]
    calls_table_name: pulumi.Input[str]  # MarkFailed writes failed calls here
    calls_table_arn: pulumi.Input[str]
    function_arn: pulumi.Input[str] | None = None  # the Lambda alias for Lambda workers
    ecs: EcsWorkerArgs | None = None
    tags: dict[str, str] = field(default_factory=dict)
    scheduled_app: str | None = None  # the app's name when EventBridge Scheduler starts this machine


class WorkerStateMachine(pulumi.ComponentResource):
    state_machine: aws.sfn.StateMachine
    definition: pulumi.Output[str]

    def __init__(self, name: str, args: WorkerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:workflow:Worker", name, None, opts)  # the type token stays: it is in stacks' URNs
        role = aws.iam.Role(
            f"{name}-role",
            name=physical_name(args.state_machine_name, "role", max_len=ROLE_NAME_MAX),
            assume_role_policy=json.dumps(assume_role("states.amazonaws.com")),
            opts=child(self),
        )
        self.definition = self._definition(args)
        policy = aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=self._policy(args), opts=child(self))
        self.state_machine = aws.sfn.StateMachine(
            f"{name}-sfn",
            name=args.state_machine_name,
            type="STANDARD",
            role_arn=role.arn,
            definition=self.definition,
            logging_configuration={
                "level": "ERROR",
                "include_execution_data": False,  # call arguments may be private
                "log_destination": args.log_group.arn.apply(lambda arn: f"{arn}:*"),
            },
            opts=child(self, depends_on=[policy]),
        )
        self.register_outputs({"state_machine_arn": self.state_machine.arn})

    @staticmethod
    def _definition(args: WorkerArgs) -> pulumi.Output[str]:
        plan = args.plan
        if args.ecs is None:
            return pulumi.Output.all(args.function_arn, args.calls_table_name).apply(
                lambda v: json.dumps(build_definition(
                    tag=plan.tag, timeout=plan.timeout, calls_table=v[1], retry=plan.retries, function_arn=v[0],
                    partition=partition(args.region), scheduled_app=args.scheduled_app))
            )
        e = args.ecs
        return pulumi.Output.all(
            e.cluster_arn, e.task_definition_arn, e.subnets, e.security_groups, e.capacity_provider, args.calls_table_name
        ).apply(
            lambda v: json.dumps(
                build_definition(
                    tag=plan.tag, timeout=plan.timeout, calls_table=v[5], retry=plan.retries,
                    partition=partition(args.region), scheduled_app=args.scheduled_app,
                    ecs=EcsTarget(cluster=v[0], task_definition=v[1], container=e.container,
                                  subnets=tuple(v[2]), security_groups=tuple(v[3]), capacity_provider=v[4],
                                  assign_public_ip=e.assign_public_ip, network_mode=e.network_mode),
                )
            )
        )

    @staticmethod
    def _policy(args: WorkerArgs) -> pulumi.Output[str]:
        e = args.ecs
        events_rule = pulumi.Output.from_input(args.account_id).apply(
            lambda account: f"arn:{partition(args.region)}:events:{args.region}:{account}:rule/StepFunctionsGetEventsForECSTaskRule"
        )
        values = pulumi.Output.all(
            args.function_arn,
            e.task_definition_arn if e else None,
            e.cluster_arn if e else None,
            pulumi.Output.all(*(e.pass_role_arns if e else [])),
            events_rule if e else None,
            args.calls_table_arn,
        )
        return to_json(
            values.apply(
                lambda v: records_scheduled_runs(state_machine_policy(
                    function_arns=[v[0]] if v[0] else [], task_definition_arn=v[1], cluster_arn=v[2],
                    pass_role_arns=list(v[3]), events_rule_arn=v[4], calls_table_arn=v[5],
                ), v[5], args.scheduled_app is not None)
            )
        )


def records_scheduled_runs(policy: dict[str, Any], calls_table_arn: str, scheduled: bool) -> dict[str, Any]:
    """``dynamodb:PutItem`` on the calls table, only for a machine that records scheduled runs."""
    if scheduled:
        policy["Statement"].append({"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": [calls_table_arn]})
    return policy

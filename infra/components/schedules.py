"""EventBridge Scheduler schedules for ``schedule=Period/Cron`` functions (plan: `infra.schedules`).

One schedule group per app (deleting the stack deletes its schedules with it), one schedule per
scheduled function with its time zone and the flexible window OFF (runs on time, as locally),
a retry policy, and a dead-letter queue (SQS, encrypted) for runs that could not be delivered.
The scheduler's role may invoke exactly the scheduled Lambda functions' aliases, start exactly
the scheduled ECS/GPU functions' worker state machines, and send to that queue; only this
account's schedules may assume it (``aws:SourceAccount``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import child, to_json
from infra.naming import ROLE_NAME_MAX, physical_name
from infra.schedules import MAX_EVENT_AGE_S, RETRY_ATTEMPTS, SchedulePlan

__all__ = ["AppSchedules", "AppSchedulesArgs", "scheduler_policy", "scheduler_trust"]

DLQ_RETENTION_S = 14 * 24 * 3600  # SQS's maximum: time to look at what did not run


@dataclass
class AppSchedulesArgs:
    prefix: str
    account_id: pulumi.Input[str]
    plans: tuple[SchedulePlan, ...]
    # tag -> the Lambda alias ARN, or the worker state machine's ARN (``SchedulePlan.target`` says which)
    target_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class AppSchedules(pulumi.ComponentResource):
    dead_letters: aws.sqs.Queue
    role: aws.iam.Role
    group: aws.scheduler.ScheduleGroup
    schedules: dict[str, aws.scheduler.Schedule]

    def __init__(self, name: str, args: AppSchedulesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:schedules:AppSchedules", name, None, opts)
        self.dead_letters = aws.sqs.Queue(f"{name}-dlq", name=f"{args.prefix}-schedules-dlq",
                                          sqs_managed_sse_enabled=True, message_retention_seconds=DLQ_RETENTION_S,
                                          opts=child(self))
        self.role = aws.iam.Role(
            f"{name}-role", name=physical_name(args.prefix, "schedules", max_len=ROLE_NAME_MAX),
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: json.dumps(scheduler_trust(account))),
            opts=child(self),
        )
        lambdas = [args.target_arns[p.tag] for p in args.plans if p.target == "lambda"]
        machines = [args.target_arns[p.tag] for p in args.plans if p.target == "state_machine"]
        document = pulumi.Output.all(self.dead_letters.arn, pulumi.Output.all(*lambdas),
                                     pulumi.Output.all(*machines)).apply(
            lambda v: scheduler_policy(list(v[1]), v[0], list(v[2])))
        policy = aws.iam.RolePolicy(f"{name}-policy", role=self.role.id, policy=to_json(document), opts=child(self))
        self.group = aws.scheduler.ScheduleGroup(f"{name}-group", name=args.prefix, opts=child(self))
        self.schedules = {p.tag: self._schedule(name, p, args.target_arns[p.tag], policy) for p in args.plans}
        self.outputs: dict[str, Any] = {
            p.tag: {"name": s.name, "expression": p.expression, "timezone": p.timezone, "schedule": p.description,
                    "target": p.target}
            for p, s in zip(args.plans, self.schedules.values(), strict=True)}
        self.register_outputs({"schedules": self.outputs, "dead_letter_queue": self.dead_letters.url})

    def _schedule(self, name: str, plan: SchedulePlan, target_arn: pulumi.Input[str],
                  policy: aws.iam.RolePolicy) -> aws.scheduler.Schedule:
        return aws.scheduler.Schedule(
            f"{name}-{plan.tag.replace('.', '-')}",
            name=plan.function_name, group_name=self.group.name, description=f"toolkit: {plan.tag} on {plan.description}",
            schedule_expression=plan.expression, schedule_expression_timezone=plan.timezone,
            flexible_time_window={"mode": "OFF"}, state="ENABLED",
            target={
                "arn": target_arn, "role_arn": self.role.arn, "input": plan.input,
                "retry_policy": {"maximum_retry_attempts": RETRY_ATTEMPTS,
                                 "maximum_event_age_in_seconds": MAX_EVENT_AGE_S},
                "dead_letter_config": {"arn": self.dead_letters.arn},
            },
            opts=child(self, depends_on=[policy]),  # the role must be allowed before the first run
        )


def scheduler_trust(account_id: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}]}


def scheduler_policy(target_arns: list[str], dead_letter_arn: str,
                     state_machine_arns: list[str] | None = None) -> dict[str, Any]:
    """Invoke the scheduled Lambda functions (their aliases, one by one), start the scheduled ECS/GPU
    functions' state machines (each by its ARN), and dead-letter what fails."""
    statements = [{"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [dead_letter_arn]}]
    if state_machine_arns:  # IAM refuses a statement with no resource
        statements.insert(0, {"Effect": "Allow", "Action": ["states:StartExecution"],
                              "Resource": sorted(set(state_machine_arns))})
    if target_arns:
        statements.insert(0, {"Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                              "Resource": sorted(set(target_arns))})
    return {"Version": "2012-10-17", "Statement": statements}

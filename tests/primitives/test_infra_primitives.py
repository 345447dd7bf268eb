"""Infra for schedules, Dicts and Queues: the plan, the resources under Pulumi mocks, the API on moto."""

from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infra"))
from infra_mocks import parse_json  # noqa: E402
from infra_support import run_component, settings_for  # noqa: E402 - sets Pulumi's mocks before infra is imported

import toolkit  # noqa: E402
from infra.components.schedules import AppSchedules, AppSchedulesArgs  # noqa: E402
from infra.components.state import AppState, AppStateArgs, state_access_policy  # noqa: E402
from infra.config import ConfigError  # noqa: E402
from infra.plan import plan_app  # noqa: E402
from infra.schedules import SchedulePlan, plan_schedules  # noqa: E402
from runtime import manifest as schema  # noqa: E402
from runtime.awsclients import client  # noqa: E402
from runtime.serialization import deserialize  # noqa: E402
from toolkit.manifest import build_manifest  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:sched-test-tick:live"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:sched-test-train-sfn"


def _manifest(**schedules: Any) -> dict[str, Any]:
    app = toolkit.App("sched")
    for tag, (schedule, backend) in schedules.items():
        def body() -> None: ...
        body.__name__ = tag
        app.function(schedule=schedule, backend=backend, name=tag)(body)
    return build_manifest(app)


def _plans(manifest: dict[str, Any]) -> tuple[SchedulePlan, ...]:
    settings = settings_for(manifest)
    return plan_schedules(schema.load(manifest), plan_app(settings))


# -- plan ----------------------------------------------------------------------------------------

def test_plan_turns_schedules_into_eventbridge_expressions_and_a_no_argument_call() -> None:
    plans = {p.tag: p for p in _plans(_manifest(
        tick=(toolkit.Period(minutes=5), "auto"),
        report=(toolkit.Cron("0 9 * * 1-5", timezone="Europe/Paris"), "lambda")))}
    assert (plans["tick"].expression, plans["tick"].timezone) == ("rate(5 minutes)", "UTC")
    assert (plans["report"].expression, plans["report"].timezone) == ("cron(0 9 ? * MON,TUE,WED,THU,FRI *)",
                                                                      "Europe/Paris")
    event = json.loads(plans["tick"].input)
    assert event["toolkit_event"] == "call" and event["function"] == "tick"
    assert deserialize(base64.b64decode(event["payload_b64"])) == ((), {})


def test_plan_refuses_what_eventbridge_cannot_run_naming_the_fix() -> None:
    with pytest.raises(ConfigError, match="whole minutes of at least 1"):
        _plans(_manifest(fast=(toolkit.Period(seconds=30), "auto")))
    app = toolkit.App("sched")

    @app.function(schedule=toolkit.Period(hours=1))
    @toolkit.fastapi_endpoint()
    def page() -> str:
        return "hi"

    with pytest.raises(ConfigError, match=r"'page' is a web endpoint .*Put the schedule on a plain @app.function"):
        _plans(build_manifest(app))


def test_ecs_and_gpu_schedules_start_the_worker_state_machine_with_no_call_id() -> None:
    plans = {p.tag: p for p in _plans(_manifest(slow=(toolkit.Period(hours=1), "ecs"),
                                                quick=(toolkit.Period(hours=1), "lambda")))}
    assert (plans["slow"].target, json.loads(plans["slow"].input)) == ("state_machine", {"function": "slow"})
    assert plans["quick"].target == "lambda" and json.loads(plans["quick"].input)["toolkit_event"] == "call"


# -- resources (Pulumi mocks) --------------------------------------------------------------------

def test_state_table_and_bucket_are_encrypted_with_ttl_and_private() -> None:
    mocks = run_component(lambda: AppState("app-state", AppStateArgs(table_name="sched-test-state")).table.arn)
    table = mocks.one("aws:dynamodb/table:Table", "state").inputs
    assert table["serverSideEncryption"] == {"enabled": True} and table["pointInTimeRecovery"] == {"enabled": True}
    assert table["ttl"] == {"enabled": True, "attributeName": "expires_at"}
    assert (table["hashKey"], table["rangeKey"]) == ("pk", "sk")
    sse = mocks.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "state")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    private = mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "state").inputs
    assert all(private[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    rules = mocks.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "state").inputs["rules"]
    expiring = [r for r in rules if "expiration" in r]
    assert [r["filter"]["prefix"] for r in expiring] == ["state/queue#"]  # Dict values never expire


def test_state_policy_grants_exactly_the_calls_the_store_makes_on_this_table_only() -> None:
    source = (REPO / "runtime" / "primitives" / "dynamodb.py").read_text()
    used = set(re.findall(r"_ddb\.(\w+)\(", source)) | set(re.findall(r'get_paginator\("(\w+)"\)', source))
    used -= {"get_paginator"}
    needed = {"dynamodb:" + "".join(part.title() for part in op.split("_")) for op in used}
    policy = state_access_policy("arn:aws:dynamodb:us-east-1:1:table/t", "arn:aws:s3:::b")
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert needed <= actions and {a for a in actions if a.startswith("dynamodb:")} == needed
    assert not any("*" in a for a in actions)
    resources = [r for s in policy["Statement"] for r in s["Resource"]]
    assert resources == ["arn:aws:dynamodb:us-east-1:1:table/t", "arn:aws:s3:::b/state/*"]


def test_schedule_runs_on_time_in_its_zone_with_retries_a_dead_letter_queue_and_a_narrow_role() -> None:
    plan = _plans(_manifest(tick=(toolkit.Cron("30 6 * * *", timezone="America/New_York"), "auto")))[0]

    def build() -> Any:
        return AppSchedules("app-schedules", AppSchedulesArgs(prefix="sched-test", account_id="123456789012",
                                                              plans=(plan,), target_arns={"tick": ALIAS})).role.arn

    mocks = run_component(build)
    schedule = mocks.one("aws:scheduler/schedule:Schedule", "tick").inputs
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    assert (schedule["scheduleExpression"], schedule["scheduleExpressionTimezone"]) == (
        "cron(30 6 * * ? *)", "America/New_York")
    target = schedule["target"]
    assert target["arn"] == ALIAS and target["retryPolicy"]["maximumRetryAttempts"] == 3
    dlq = mocks.one("aws:sqs/queue:Queue", "dlq").inputs
    assert dlq["sqsManagedSseEnabled"] is True and target["deadLetterConfig"]["arn"].endswith(dlq["name"])
    trust = parse_json(mocks.one("aws:iam/role:Role", "schedules").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    policy = parse_json(mocks.one("aws:iam/rolePolicy:RolePolicy", "schedules").inputs["policy"])
    grants = {a: s["Resource"] for s in policy["Statement"] for a in s["Action"]}
    assert grants == {"lambda:InvokeFunction": [ALIAS], "sqs:SendMessage": [target["deadLetterConfig"]["arn"]]}


def test_an_ecs_schedules_role_may_start_exactly_its_state_machine() -> None:
    plan = _plans(_manifest(train=(toolkit.Cron("0 3 * * *"), "ecs")))[0]

    def build() -> Any:
        return AppSchedules("app-schedules", AppSchedulesArgs(prefix="sched-test", account_id="123456789012",
                                                              plans=(plan,), target_arns={"train": MACHINE})).role.arn

    mocks = run_component(build)
    target = mocks.one("aws:scheduler/schedule:Schedule", "train").inputs["target"]
    assert target["arn"] == MACHINE and json.loads(target["input"]) == {"function": "train"}
    assert target["retryPolicy"]["maximumRetryAttempts"] == 3 and target["deadLetterConfig"]["arn"]
    policy = parse_json(mocks.one("aws:iam/rolePolicy:RolePolicy", "schedules").inputs["policy"])
    grants = {a: s["Resource"] for s in policy["Statement"] for a in s["Action"]}
    assert grants == {"states:StartExecution": [MACHINE], "sqs:SendMessage": [target["deadLetterConfig"]["arn"]]}
    assert all("*" not in a and "*" not in r for s in policy["Statement"] for a in s["Action"] for r in s["Resource"])


def _create_schedule(plan: SchedulePlan, group: str, target: dict[str, Any]) -> dict[str, Any]:
    """``plan`` created through the scheduler API (boto3 checks it against the service model) in a new group, with
    the target fields every schedule of infra's has and ``target``'s own; what the API stores."""
    scheduler = client("scheduler")
    scheduler.create_schedule_group(Name=group)
    scheduler.create_schedule(
        Name=plan.function_name, GroupName=group, ScheduleExpression=plan.expression,
        ScheduleExpressionTimezone=plan.timezone, FlexibleTimeWindow={"Mode": "OFF"}, State="ENABLED",
        Target={"RoleArn": "arn:aws:iam::123456789012:role/sched-test-schedules", "Input": plan.input,
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}, **target})
    return dict(scheduler.get_schedule(Name=plan.function_name, GroupName=group))


def test_the_planned_schedule_is_accepted_by_the_scheduler_api(state_aws: tuple[str, str]) -> None:
    """boto3 validates every parameter against the service model; moto then stores the schedule."""
    plan = _plans(_manifest(tick=(toolkit.Cron("0 9 * * 1-5", timezone="Europe/Paris"), "auto")))[0]
    dlq = client("sqs").create_queue(QueueName="sched-test-schedules-dlq")["QueueUrl"]
    dlq_arn = client("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stored = _create_schedule(plan, "sched-test", {"Arn": ALIAS, "DeadLetterConfig": {"Arn": dlq_arn}})
    assert stored["ScheduleExpression"] == "cron(0 9 ? * MON,TUE,WED,THU,FRI *)"
    assert stored["ScheduleExpressionTimezone"] == "Europe/Paris" and stored["FlexibleTimeWindow"]["Mode"] == "OFF"
    assert json.loads(stored["Target"]["Input"])["function"] == "tick"


def test_an_ecs_schedule_and_its_state_machine_are_accepted_by_the_apis(state_aws: tuple[str, str]) -> None:
    """The scheduler API takes the state machine target with the schedule's input; Step Functions
    takes the scheduled definition (boto3 checks both against the service models, moto stores them)."""
    from infra.asl import EcsTarget, build_definition

    plan = _plans(_manifest(train=(toolkit.Cron("0 3 * * *"), "ecs")))[0]
    definition = build_definition(
        tag="train", timeout=3600, calls_table="sched-test-calls", scheduled_app="sched",
        ecs=EcsTarget(cluster="arn:aws:ecs:us-east-1:123456789012:cluster/c", container="function",
                      task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/train:1",
                      subnets=("subnet-1",), security_groups=("sg-1",)))
    machine = client("stepfunctions").create_state_machine(
        name="sched-test-train-sfn", definition=json.dumps(definition), type="STANDARD",
        roleArn="arn:aws:iam::123456789012:role/sched-test-train-sfn-role")["stateMachineArn"]
    stored = _create_schedule(plan, "sched-ecs", {"Arn": machine})["Target"]
    assert stored["Arn"] == machine and json.loads(stored["Input"]) == {"function": "train"}


# -- the whole program ---------------------------------------------------------------------------

def test_the_program_gives_every_function_the_state_table_and_schedules_its_scheduled_ones() -> None:
    from infra_support import run_program

    manifest = _manifest(tick=(toolkit.Period(hours=1), "auto"), plain=(None, "auto"))
    run = run_program(settings_for(manifest))
    lambdas = run.mocks.of_type("aws:lambda/function:Function")
    assert len(lambdas) == 2
    for fn in lambdas:
        env = fn.inputs["environment"]["variables"]
        assert env["TOOLKIT_STATE_TABLE"] == run.outputs["state_table"] and env["TOOLKIT_STATE_BUCKET"]
    grants = [parse_json(r.inputs["policy"]) for r in run.mocks.of_type("aws:iam/rolePolicy:RolePolicy")
              if r.name.endswith("-state-access")]
    assert len(grants) == 2 and all(g["Statement"][0]["Resource"][0].endswith("-state") for g in grants)
    [schedule] = run.mocks.of_type("aws:scheduler/schedule:Schedule")
    assert schedule.inputs["scheduleExpression"] == "rate(1 hour)"
    assert schedule.inputs["target"]["arn"].endswith(":live") and "tick" in schedule.inputs["target"]["arn"]
    assert run.outputs["schedules"]["tick"]["expression"] == "rate(1 hour)"


def test_the_program_schedules_an_ecs_function_through_its_state_machine_which_records_the_run() -> None:
    from infra_support import run_program

    manifest = _manifest(train=(toolkit.Period(hours=1), "ecs"), batch=(None, "ecs"))
    run = run_program(settings_for(manifest))
    machines = {m.name: m for m in run.mocks.of_type("aws:sfn/stateMachine:StateMachine")}
    [scheduled] = [m for name, m in machines.items() if "train" in name]
    [plain] = [m for name, m in machines.items() if "batch" in name]
    [schedule] = run.mocks.of_type("aws:scheduler/schedule:Schedule")
    machine_arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{scheduled.inputs['name']}"  # as mocked
    assert schedule.inputs["target"]["arn"] == machine_arn
    assert json.loads(schedule.inputs["target"]["input"]) == {"function": "train"}
    definition = json.loads(scheduled.inputs["definition"])
    assert definition["StartAt"] == "Route" and "RecordScheduledCall" in definition["States"]
    record = definition["States"]["RecordScheduledCall"]["Parameters"]
    assert record["TableName"] == run.outputs["calls_table"] and record["Item"]["app"] == {"S": "sched"}
    assert json.loads(plain.inputs["definition"])["StartAt"] == "BuildWorkerTask"  # unchanged without a schedule
    policies = {r.name: parse_json(r.inputs["policy"]) for r in run.mocks.of_type("aws:iam/rolePolicy:RolePolicy")}
    [scheduled_policy] = [doc for name, doc in policies.items() if "train" in name and name.endswith("worker-policy")]
    [plain_policy] = [doc for name, doc in policies.items() if "batch" in name and name.endswith("worker-policy")]
    puts = [s["Resource"] for s in scheduled_policy["Statement"] if "dynamodb:PutItem" in s["Action"]]
    assert len(puts) == 1 and len(puts[0]) == 1 and puts[0][0].endswith("-calls")
    assert not any("dynamodb:PutItem" in s["Action"] for s in plain_policy["Statement"])
    [role_policy] = [doc for name, doc in policies.items() if name.endswith("schedules-policy")]
    starts = [s["Resource"] for s in role_policy["Statement"] if s["Action"] == ["states:StartExecution"]]
    assert starts == [[machine_arn]]
    assert run.outputs["schedules"]["train"]["target"] == "state_machine"

"""Sandboxes on AWS, planned (Pulumi mocks, no AWS): least-privilege roles checked against the calls the
control plane and the agent really make, security groups from block_network, a task definition ECS
registers, and the log group."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pulumi
from botocore.validate import validate_parameters

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infra"))
from infra_mocks import RecordingMocks, parse_json  # noqa: E402
from infra_support import run_component  # noqa: E402 - sets Pulumi's mocks before infra is imported

from infra.components.sandboxes import (  # noqa: E402
    AppSandboxes,
    AppSandboxesArgs,
    sandbox_control_policy,
    sandbox_task_policy,
)

REPO = Path(__file__).resolve().parents[2]
SERVICES = {"ecs", "sqs", "dynamodb", "ec2", "logs"}
# IAM actions a call needs besides its own name: RunTask with tags and roles, CreateQueue with tags,
# CreateSecurityGroup with TagSpecifications
IMPLIED = {"ecs:RunTask": {"ecs:TagResource", "iam:PassRole"}, "sqs:CreateQueue": {"sqs:TagQueue"},
           "ec2:CreateSecurityGroup": {"ec2:CreateTags"}}
CONTROL_PLANE = ("aws.py", "aws_network.py", "aws_logs.py")  # toolkit/sandboxes/: every AWS call a caller makes
VPC = "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/demo-state"
QUEUES = "arn:aws:sqs:us-east-1:123456789012:demo-sb-*"
LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/toolkit/demo/sandboxes"


def _calls(path: Path) -> set[str]:
    """``svc:Action`` for each boto3 call in ``path``: ``ecs.run_task(...)``, ``client("sqs").receive_message``,
    ``dynamodb.get_paginator("query")``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        service = owner.id if isinstance(owner, ast.Name) else (
            owner.args[0].value if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)
            and owner.func.id == "client" and owner.args and isinstance(owner.args[0], ast.Constant) else None)
        if service not in SERVICES:
            continue
        method = node.func.attr
        if method == "get_paginator":
            method = node.args[0].value  # type: ignore[attr-defined]
        found.add(f"{service}:{''.join(part.title() for part in method.split('_'))}")
    return found


def _actions(document: dict[str, Any]) -> set[str]:
    return {action for statement in document["Statement"] for action in statement["Action"]}


def _with_implied(actions: set[str]) -> set[str]:
    return actions | {extra for action in actions for extra in IMPLIED.get(action, ())}


def test_the_task_role_allows_exactly_the_agents_calls_on_channel_items_only():
    used = _calls(REPO / "runtime" / "sandbox_agent.py")
    assert used == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "dynamodb:PutItem"}
    policy = sandbox_task_policy(table_arn=TABLE, queue_arns=QUEUES)
    assert _actions(policy) == used
    [table_statement] = [s for s in policy["Statement"] if s["Resource"] == [TABLE]]
    assert table_statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["sandbox#*"]}}
    assert all("*" not in r or r == QUEUES for s in policy["Statement"] for r in s["Resource"])


def test_the_control_policy_allows_exactly_the_control_planes_calls():
    used = set().union(*(_calls(REPO / "toolkit" / "sandboxes" / name) for name in CONTROL_PLANE))
    policy = sandbox_control_policy(
        cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/demo-sandboxes",
        task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/demo-sandbox:3",
        table_arn=TABLE, queue_arns=QUEUES, pass_role_arns=["arn:aws:iam::123456789012:role/r"], vpc_arn=VPC,
        tunnel_tag="demo-sb-", log_group_arn=LOG_GROUP)
    assert _actions(policy) == _with_implied(used)
    logs = next(s for s in policy["Statement"] if s["Action"] == ["logs:FilterLogEvents"])
    assert logs["Resource"] == [LOG_GROUP, LOG_GROUP + ":*"]  # the sandboxes' group, nothing else
    run_task = next(s for s in policy["Statement"] if s["Action"] == ["ecs:RunTask"])
    assert run_task["Resource"] == ["arn:aws:ecs:us-east-1:123456789012:task-definition/demo-sandbox:*"]
    tasks = next(s for s in policy["Statement"] if "ecs:StopTask" in s["Action"])
    assert tasks["Resource"] == ["arn:aws:ecs:us-east-1:123456789012:task/demo-sandboxes/*"]


def _plan() -> RecordingMocks:
    def program() -> Any:
        sandboxes = AppSandboxes("demo-sandboxes", AppSandboxesArgs(
            prefix="demo", region="us-east-1", account_id="123456789012", vpc_id="vpc-1",
            subnet_ids=["subnet-a", "subnet-b"], route_table_ids=["rtb-1"],
            image="123456789012.dkr.ecr.us-east-1.amazonaws.com/toolkit/demo:abc",
            repository_arns=["arn:aws:ecr:us-east-1:123456789012:repository/toolkit/demo"],
            table_name="demo-state", table_arn=TABLE))
        return sandboxes.control_policy()

    return run_component(program)


def test_security_groups_follow_block_network_and_let_nothing_in():
    mocks = _plan()
    groups = {r.name: r.inputs for r in mocks.of_type("aws:ec2/securityGroup:SecurityGroup")}
    assert not groups["demo-sandboxes-open-sg"].get("ingress")
    assert groups["demo-sandboxes-open-sg"]["egress"][0]["cidrBlocks"] == ["0.0.0.0/0"]
    blocked = groups["demo-sandboxes-blocked-sg"]
    assert not blocked.get("ingress") and not blocked.get("egress")  # its only egress: the two rules below
    rules = {r.name: r.inputs for r in mocks.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")}
    assert set(rules) == {"demo-sandboxes-blocked-to-endpoints", "demo-sandboxes-blocked-to-dynamodb",
                          "demo-sandboxes-blocked-to-s3"}  # S3: ECR's image layers (tests/infra/test_sandbox_network.py)
    for rule in rules.values():
        assert (rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (443, 443, "tcp") and "cidrIpv4" not in rule
    endpoints = {r.inputs["serviceName"]: r.inputs for r in mocks.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert set(endpoints) == {f"com.amazonaws.us-east-1.{s}" for s in ("sqs", "logs", "dynamodb", "ecr.api", "ecr.dkr", "s3")}
    assert endpoints["com.amazonaws.us-east-1.dynamodb"]["vpcEndpointType"] == "Gateway"


def test_the_task_definition_is_one_ecs_registers_logging_to_its_group():
    mocks = _plan()
    task = mocks.one("aws:ecs/taskDefinition:TaskDefinition", "demo-sandboxes").inputs
    request = {k: task[k] for k in ("family", "networkMode", "requiresCompatibilities", "runtimePlatform",
                                    "taskRoleArn", "executionRoleArn", "cpu", "memory")}
    request["containerDefinitions"] = parse_json(task["containerDefinitions"])
    validate_parameters(request, botocore.session.get_session().get_service_model("ecs").operation_model(
        "RegisterTaskDefinition").input_shape)
    [container] = request["containerDefinitions"]
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/toolkit/demo/sandboxes"
    assert container["linuxParameters"] == {"initProcessEnabled": True}
    assert container["entryPoint"] == ["python3", "-m", "runtime.sandbox_agent"]
    assert {e["name"]: e["value"] for e in container["environment"]} == {"TOOLKIT_STATE_TABLE": "demo-state"}
    assert request["requiresCompatibilities"] == ["FARGATE"] and request["networkMode"] == "awsvpc"
    log_group = mocks.one("aws:cloudwatch/logGroup:LogGroup", "demo-sandboxes").inputs
    assert log_group["retentionInDays"] == 14
    task_policy = parse_json(mocks.one("aws:iam/rolePolicy:RolePolicy", "task-policy").inputs["policy"])
    assert _actions(task_policy) == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "dynamodb:PutItem"}
    execution = parse_json(mocks.one("aws:iam/rolePolicy:RolePolicy", "execution-policy").inputs["policy"])
    assert not any(re.match(r"(sqs|dynamodb|ecs):", a) for a in _actions(execution))


def test_the_control_policy_names_every_planned_task_definition_and_narrows_ec2():
    gpu_cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/demo-app"
    policy = sandbox_control_policy(
        cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/demo-sandboxes",
        task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/demo-sandbox:3",
        table_arn=TABLE, queue_arns=QUEUES, pass_role_arns=["arn:aws:iam::123456789012:role/r"], vpc_arn=VPC,
        tunnel_tag="demo-sb-", gpu_cluster_arn=gpu_cluster, other_task_definition_arns=[
            "arn:aws:ecs:us-east-1:123456789012:task-definition/demo-sandbox-0123456789ab:1",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/demo-train-sandbox:7"])
    statements = policy["Statement"]
    assert not [a for s in statements for a in s["Action"] if "*" in a]  # no wildcard actions
    run_task = next(s for s in statements if s["Action"] == ["ecs:RunTask"])
    assert sorted(run_task["Resource"]) == [f"arn:aws:ecs:us-east-1:123456789012:task-definition/{f}:*" for f in
                                            ("demo-sandbox-0123456789ab", "demo-sandbox", "demo-train-sandbox")]
    assert run_task["Condition"]["ArnEquals"]["ecs:cluster"] == [gpu_cluster,
                                                                 "arn:aws:ecs:us-east-1:123456789012:cluster/demo-sandboxes"]
    stop = next(s for s in statements if "ecs:StopTask" in s["Action"])
    assert "arn:aws:ecs:us-east-1:123456789012:task/demo-app/*" in stop["Resource"]
    ec2 = [s for s in statements if any(a.startswith("ec2:") for a in s["Action"])]
    assert [s["Resource"] for s in ec2 if s["Resource"] == ["*"]] == [["*"]]  # only the two Describe calls
    assert {a for s in ec2 if s["Resource"] == ["*"] for a in s["Action"]} == {
        "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces"}
    opened = next(s for s in ec2 if "ec2:AuthorizeSecurityGroupIngress" in s["Action"])
    assert opened["Condition"] == {"StringEquals": {"aws:ResourceTag/toolkit:sandbox-tunnel": "demo-sb-"}}
    made = [s for s in ec2 if s["Action"] == ["ec2:CreateSecurityGroup"]]
    assert [s["Resource"] for s in made] == [[VPC], ["arn:aws:ec2:us-east-1:123456789012:security-group/*"]]
    assert made[1]["Condition"] == {"StringEquals": {"aws:RequestTag/toolkit:sandbox-tunnel": "demo-sb-"}}


def _plan_with_images() -> RecordingMocks:
    from infra.components.sandboxes import GpuSandboxImage, SandboxImage
    from infra.gpu import select_gpu

    repo = "123456789012.dkr.ecr.us-east-1.amazonaws.com/toolkit/demo"

    def program() -> Any:
        sandboxes = AppSandboxes("demo-sandboxes", AppSandboxesArgs(
            prefix="demo", region="us-east-1", account_id="123456789012", vpc_id="vpc-1",
            subnet_ids=["subnet-a"], route_table_ids=["rtb-1"], image=f"{repo}:app",
            repository_arns=["arn:aws:ecr:us-east-1:123456789012:repository/toolkit/demo"],
            table_name="demo-state", table_arn=TABLE,
            images=[SandboxImage("a" * 64, f"{repo}@sha256:{'1' * 64}")],
            gpu_images=[GpuSandboxImage("demo-train", "b" * 64, f"{repo}@sha256:{'2' * 64}", select_gpu("A10G"),
                                        (4096, 14745), "demo-train-gpu")],
            gpu_cluster_name="demo-app", gpu_cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/demo-app"))

        def check(values: list[Any]) -> None:
            images, gpu = values
            assert set(images) == {"a" * 64}
            assert [(g["gpu"], g["count"], g["image"], g["capacity_provider"], g["cluster"]) for g in gpu] == [
                ("A10G", 1, "b" * 64, "demo-train-gpu", "demo-app")]

        return pulumi.Output.all(sandboxes.images_output(), sandboxes.gpu_output()).apply(check)

    return run_component(program)


def _register_request(task: dict[str, Any]) -> dict[str, Any]:
    request = {k: task[k] for k in ("family", "networkMode", "requiresCompatibilities", "runtimePlatform",
                                    "taskRoleArn", "executionRoleArn", "cpu", "memory") if k in task}
    request["containerDefinitions"] = parse_json(task["containerDefinitions"])
    validate_parameters(request, botocore.session.get_session().get_service_model("ecs").operation_model(
        "RegisterTaskDefinition").input_shape)
    return request


def test_a_task_definition_per_function_image_and_a_gpu_one_on_its_capacity():
    mocks = _plan_with_images()
    tasks = {t.inputs["family"]: _register_request(t.inputs) for t in mocks.of_type("aws:ecs/taskDefinition:TaskDefinition")}
    assert set(tasks) == {"demo-sandbox", "demo-sandbox-aaaaaaaaaaaa", "demo-train-sandbox"}
    [image] = tasks["demo-sandbox-aaaaaaaaaaaa"]["containerDefinitions"]
    assert image["image"].endswith("@sha256:" + "1" * 64) and image["entryPoint"] == ["python3", "-m", "runtime.sandbox_agent"]
    gpu = tasks["demo-train-sandbox"]
    assert gpu["requiresCompatibilities"] == ["EC2"] and gpu["networkMode"] == "bridge" and "memory" not in gpu
    [container] = gpu["containerDefinitions"]
    assert container["resourceRequirements"] == [{"type": "GPU", "value": "1"}]
    assert (container["cpu"], container["memoryReservation"]) == (4096, 14745) and "memory" not in container
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["AWS_REGION"] == "us-east-1" and env["TOOLKIT_STATE_TABLE"] == "demo-state"
    assert container["entryPoint"] == ["python3", "-m", "runtime.sandbox_agent"]


def test_many_images_keep_the_control_policy_within_the_managed_policy_limit():
    import json

    images = [f"arn:aws:ecs:us-east-1:123456789012:task-definition/demo-sandbox-{i:012x}:1" for i in range(200)]
    gpu = "arn:aws:ecs:us-east-1:123456789012:task-definition/demo-train-sandbox:7"
    policy = sandbox_control_policy(
        cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/demo-sandboxes",
        task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/demo-sandbox:3",
        table_arn=TABLE, queue_arns=QUEUES, pass_role_arns=["arn:aws:iam::123456789012:role/r"], vpc_arn=VPC,
        tunnel_tag="demo-sb-", other_task_definition_arns=[*images, gpu],
        gpu_cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/demo-app")
    assert len(json.dumps(policy, separators=(",", ":"))) <= 6144  # IAM's managed policy size
    run_task = next(s for s in policy["Statement"] if s["Action"] == ["ecs:RunTask"])
    prefix = "arn:aws:ecs:us-east-1:123456789012:task-definition/"
    assert run_task["Resource"] == [f"{prefix}demo-sandbox:*", f"{prefix}demo-sandbox-*:*", f"{prefix}demo-train-sandbox:*"]

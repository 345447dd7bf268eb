"""What readers need to settle a call whose worker is gone (runtime/callstore/supervision.py), granted
exactly: DescribeExecution on the app's workers' executions, DescribeTasks on the app's cluster's
tasks (only where the app has ECS), over the planned resources under Pulumi's mock runtime."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import botocore.session
from infra_mocks import parse_json
from infra_support import Run

from infra.policies import cluster_tasks, executions_of
from runtime.callstore.supervision import execution_arn

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def _function_policies(run: Run) -> dict[str, dict[str, Any]]:
    return {r.name: parse_json(r.inputs["policy"]) for r in run.mocks.of_type(ROLE_POLICY)
            if r.name.endswith("-identity-policy")}


def _resources(doc: dict[str, Any], action: str) -> list[str]:
    return sorted(arn for s in doc["Statement"] if action in s["Action"]
                  for arn in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]))


def test_every_function_may_describe_and_stop_the_executions_of_the_workers_it_calls(web_run: Run) -> None:
    targets = {t["state_machine_arn"] for t in _targets(web_run)}
    policies = _function_policies(web_run)
    assert policies
    for name, doc in policies.items():
        for action in ("states:DescribeExecution", "states:StopExecution"):  # settle, and FunctionCall.cancel
            granted = _resources(doc, action)
            assert "*" not in granted and all(":execution:" in arn for arn in granted), name
            for machine in targets:  # the executions the runtime asks about match what is granted
                assert any(fnmatch.fnmatchcase(execution_arn(machine, "fc-0123abcd"), arn) for arn in granted), (
                    name, action, machine)


def test_with_ecs_in_the_app_functions_may_describe_only_its_cluster_tasks(web_run: Run, plain_run: Run) -> None:
    # the ECS worker's state machine watches the same tasks (runTask.sync): one cluster, one pattern
    watched = {arn for r in web_run.mocks.of_type(ROLE_POLICY) if not r.name.endswith("-identity-policy")
               for arn in _resources(parse_json(r.inputs["policy"]), "ecs:StopTask")}
    assert len(watched) == 1 and ":task/" in next(iter(watched))
    for name, doc in _function_policies(web_run).items():
        assert _resources(doc, "ecs:DescribeTasks") == sorted(watched), name
    for name, doc in _function_policies(plain_run).items():  # no ECS: no grant
        assert _resources(doc, "ecs:DescribeTasks") == [], name


def test_the_patterns_are_the_arns_aws_uses() -> None:
    machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:demo-add-worker"
    assert fnmatch.fnmatchcase(execution_arn(machine, "fc-1"), executions_of(machine))
    cluster = "arn:aws:ecs:eu-west-1:123456789012:cluster/demo"
    assert cluster_tasks(cluster) == "arn:aws:ecs:eu-west-1:123456789012:task/demo/*"
    assert execution_arn(machine, "fc-1") == "arn:aws:states:eu-west-1:123456789012:execution:demo-add-worker:fc-1"
    session = botocore.session.get_session()  # the requests the supervisor makes take these members
    assert "executionArn" in session.get_service_model("stepfunctions").operation_model(
        "DescribeExecution").input_shape.required_members
    describe_tasks = session.get_service_model("ecs").operation_model("DescribeTasks").input_shape
    assert {"cluster", "tasks"} <= set(describe_tasks.members) and "tasks" in describe_tasks.required_members


def _targets(run: Run) -> list[dict[str, str]]:
    lambdas = run.mocks.of_type("aws:lambda/function:Function")
    env = lambdas[0].inputs["environment"]["variables"]
    return [t for t in json.loads(env["TOOLKIT_FUNCTION_TARGETS"]).values()]

"""The pulumi-free core: GPU choice, sizes, names, domains, config, plan, ASL, policies."""

from __future__ import annotations

import json

import pytest
from infra_support import images_for, load_fixture, settings_for

from infra.asl import ECS_RUN_TASK_SYNC, FAILURE_ATTR, LAMBDA_INVOKE, EcsTarget, Retry, build_definition
from infra.config import ConfigError, settings_from
from infra.dns import domain_kind, workspace_url, zone_for
from infra.gpu import GpuError, select_gpu
from infra.naming import ALB_NAME_MAX, physical_name
from infra.plan import plan_app
from infra.policies import ecr_arn_from_image, function_policy, state_machine_policy
from infra.sizing import fargate_size, lambda_memory_mib


@pytest.mark.parametrize(
    ("spec", "name", "count", "first_type"),
    [
        ("T4", "T4", 1, "g4dn.xlarge"),
        ("a10g", "A10G", 1, "g5.xlarge"),
        ("L4", "L4", 1, "g6.xlarge"),
        ("l40s", "L40S", 1, "g6e.xlarge"),
        ("A100", "A100", 1, "p4d.24xlarge"),
        ("H100:2", "H100", 2, "p5.48xlarge"),
        ("A10G:2", "A10G", 2, "g5.12xlarge"),
        ("any", "any", 1, "g4dn.xlarge"),
    ],
)
def test_gpu_spec_picks_the_smallest_instance_with_enough_gpus(spec: str, name: str, count: int, first_type: str) -> None:
    selection = select_gpu(spec)
    assert (selection.name, selection.count, selection.instance_types[0]) == (name, count, first_type)


def test_any_gpu_offers_several_families_for_spot() -> None:
    assert select_gpu("any").instance_types == ("g4dn.xlarge", "g5.xlarge", "g6.xlarge")


@pytest.mark.parametrize("spec", ["V100", "A10G:x", "T4:0", "T4:16"])
def test_bad_gpu_specs_name_the_value(spec: str) -> None:
    with pytest.raises(GpuError, match=spec.split(":")[0] if spec != "T4:16" else "16"):
        select_gpu(spec)


def test_sizes() -> None:
    assert lambda_memory_mib(None, None) == 1024
    assert lambda_memory_mib(2.0, 512) == 3538  # 2 vCPU need 3538 MiB on Lambda
    assert lambda_memory_mib(None, 20000) == 10240
    assert fargate_size(None, None) == (1024, 2048)
    assert fargate_size(0.25, 512) == (256, 512)
    assert fargate_size(2.0, 5000) == (2048, 5120)
    assert fargate_size(1.0, 10000) == (2048, 10240)  # too much memory for 1 vCPU: next size


def test_physical_names_fit_and_stay_distinct() -> None:
    long_a = physical_name("a" * 40, "first-function", max_len=ALB_NAME_MAX)
    long_b = physical_name("a" * 40, "second-function", max_len=ALB_NAME_MAX)
    assert len(long_a) <= ALB_NAME_MAX and long_a != long_b
    assert physical_name("App", "Model.generate") == "app-model-generate"


def test_domains() -> None:
    assert zone_for("api.example.com") == "example.com"
    assert zone_for("*.apps.example.com") == "example.com"
    assert zone_for("a.b.example.co.uk", "example.co.uk") == "example.co.uk"
    assert [domain_kind(d) for d in ("example.com", "api.example.com", "*.apps.example.com")] == [
        "apex", "subdomain", "wildcard",
    ]
    assert workspace_url("ws-dev--x", "toolkit.dev") == "https://ws-dev--x.toolkit.dev"
    assert workspace_url("ws--x", None) is None


def test_settings_from_config_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    manifest = load_fixture("plain")
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest))
    values = {
        "manifest": str(path),
        "images": json.dumps(images_for(manifest)),
        "baseDomain": "toolkit.example.com",
        "emulatorEndpoint": "http://localhost:4566",
        "rateLimit": "50",
        "subnetIds": '["subnet-1"]',
    }
    settings = settings_from(values.get, stack="prod")
    assert settings.manifest == manifest and settings.stack == "prod"
    assert settings.rate_limit == 50.0 and settings.burst_limit == 1000
    assert settings.subnet_ids == ("subnet-1",) and settings.emulator_endpoint == "http://localhost:4566"
    inline = settings_from({"manifest": json.dumps(manifest)}.get)
    assert inline.manifest == manifest and inline.region == "us-east-1"


def test_config_errors_name_the_key_and_fix() -> None:
    with pytest.raises(ConfigError, match="toolkit:manifest is not set"):
        settings_from({}.get)
    with pytest.raises(ConfigError, match="toolkit:images must be JSON"):
        settings_from({"manifest": json.dumps(load_fixture("plain")), "images": "{nope"}.get)
    with pytest.raises(ConfigError, match="'square' has no image in toolkit:images"):
        plan_app(settings_for(load_fixture("plain"), images={}))


def test_plan_assigns_runners_and_front_doors() -> None:
    web = {f.tag: f for f in plan_app(settings_for(load_fixture("web"), base_domain="toolkit.example.com")).functions}
    assert {t: (f.backend, f.worker, f.front_door) for t, f in web.items()} == {
        "api": ("lambda", "lambda", "http_api"),
        "hello": ("lambda", "lambda", "http_api"),
        "legacy": ("lambda", "lambda", "http_api"),
        "server": ("ecs", "ecs", "alb"),
    }
    assert web["hello"].web is not None and web["hello"].web.url == "https://default--web-demo-hello.toolkit.example.com"
    gpu = {f.tag: f for f in plan_app(settings_for(load_fixture("gpu"))).functions}
    assert (gpu["train"].backend, gpu["train"].worker, gpu["train"].has_service) == ("gpu", "ecs", False)
    assert (gpu["batch"].backend, gpu["batch"].worker) == ("ecs", "ecs")
    assert gpu["infer"].gpu is not None and gpu["infer"].gpu.count == 2


def test_lambda_definition_shape() -> None:
    definition = build_definition(tag="square", timeout=120, calls_table="calls", retry=Retry(3, 1.5, 2.0, 30.0), function_arn="arn:fn")
    task = definition["States"]["RunWorker"]
    assert definition["StartAt"] == "RunWorker" and task["Resource"] == LAMBDA_INVOKE
    assert task["Parameters"] == {
        "FunctionName": "arn:fn",
        "Payload": {"toolkit_event": "worker_task", "call_id.$": "$.call_id", "function": "square",
                    "attempt.$": "$$.State.RetryCount"},  # a retry may take the call back (tests/runtime/test_worker_retry.py)
    }
    assert task["TimeoutSeconds"] == 120 and task["ResultPath"] is None and task["End"] is True
    user_retry = task["Retry"][-1]
    assert user_retry == {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3,
                          "BackoffRate": 1.5, "MaxDelaySeconds": 30}
    json.dumps(definition)  # JSON-serialisable as emitted


def test_ecs_definition_uses_capacity_provider_for_gpus() -> None:
    target = EcsTarget("arn:cluster", "arn:td:1", "function", ("s",), ("g",), capacity_provider="gpu-cp")
    definition = build_definition(tag="train", timeout=3600, calls_table="calls", ecs=target)
    task = definition["States"]["RunWorker"]
    assert definition["StartAt"] == "BuildWorkerTask" and task["Resource"] == ECS_RUN_TASK_SYNC
    assert task["Parameters"]["CapacityProviderStrategy"] == [{"CapacityProvider": "gpu-cp", "Weight": 1}]
    assert "LaunchType" not in task["Parameters"] and "Retry" not in task
    with pytest.raises(ValueError, match="exactly one"):
        build_definition(tag="x", timeout=1, calls_table="calls")


@pytest.mark.parametrize("worker", ["lambda", "ecs"])
def test_worker_failure_is_caught_into_a_conditional_failed_mark(worker: str) -> None:
    target = {"function_arn": "arn:fn"} if worker == "lambda" else \
        {"ecs": EcsTarget("arn:cluster", "arn:td:1", "function", ("s",), ("g",))}
    states = build_definition(tag="sq", timeout=60, calls_table="app-calls", retry=Retry(2), **target)["States"]  # type: ignore[arg-type]
    run = states["RunWorker"]
    # after the retries: every error, the caught {"Error","Cause"} kept beside call_id
    assert run["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.worker_error", "Next": "MarkFailed"}]
    assert run["Retry"][-1]["ErrorEquals"] == ["States.ALL"] and run["End"] is True
    mark = states["MarkFailed"]
    params = mark["Parameters"]
    assert mark["Resource"] == "arn:aws:states:::dynamodb:updateItem" and params["TableName"] == "app-calls"
    assert params["Key"] == {"call_id": {"S.$": "$.call_id"}}
    # only an unfinished call is failed: a result a worker recorded first is never overwritten
    assert params["ConditionExpression"] == "attribute_exists(call_id) AND #st IN (:pending, :running)"
    names, values = params["ExpressionAttributeNames"], params["ExpressionAttributeValues"]
    assert names["#st"] == "status" and names["#err"] == FAILURE_ATTR
    assert values[":failed"] == {"S": "failed"} and (values[":pending"], values[":running"]) == ({"S": "pending"}, {"S": "running"})
    assert values[":err"] == {"S.$": "States.JsonToString($.worker_error)"}
    assert mark["Catch"][0]["Next"] == mark["Next"] == "WorkerFailed"
    assert states["WorkerFailed"]["Type"] == "Fail" and states["WorkerFailed"]["ErrorPath"] == "$.worker_error.Error"


def test_state_machine_policy_may_only_update_the_calls_table() -> None:
    doc = state_machine_policy(function_arns=["arn:fn"], task_definition_arn=None, cluster_arn=None,
                               pass_role_arns=[], events_rule_arn=None, calls_table_arn="arn:table/calls")
    ddb = [s for s in doc["Statement"] if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert ddb == [{"Effect": "Allow", "Action": ["dynamodb:UpdateItem"], "Resource": ["arn:table/calls"]}]


def test_function_policy_is_scoped_to_the_function() -> None:
    doc = function_policy(log_group_arn="arn:lg", table_arn="arn:t", bucket_arn="arn:b", state_machine_arn="arn:sm",
                          executions_arn="arn:ex:*", secret_arns=[])
    resources = [s["Resource"] for s in doc["Statement"]]
    assert ["arn:sm"] in resources and "*" not in resources
    assert not any("secretsmanager:GetSecretValue" in s["Action"] for s in doc["Statement"])  # no secrets, no grant


def test_ecr_arn_from_image() -> None:
    uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/toolkit/app@sha256:" + "a" * 64
    assert ecr_arn_from_image(uri) == "arn:aws:ecr:eu-west-1:123456789012:repository/toolkit/app"
    assert ecr_arn_from_image("docker.io/library/python:3.11") is None

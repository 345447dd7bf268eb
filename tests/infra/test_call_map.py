"""The call map deploy writes for lookups from other processes (runtime/callmap.py): one SSM parameter
per stack, at the name a lookup derives, holding what `runtime.cloud_client` needs to call each function."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
from infra_support import Run, load_fixture, run_program, settings_for

from infra.components.lambda_function import ALIAS_NAME
from runtime.callmap import CallMap, MappedFunction, parameter_name
from toolkit.deploy.names import stack_name

PARAMETER = "aws:ssm/parameter:Parameter"


def _call_map(run: Run) -> tuple[dict[str, Any], CallMap]:
    inputs = run.mocks.one(PARAMETER, "call-map").inputs
    return inputs, CallMap.loads(_value(inputs), inputs["name"])


def _value(inputs: dict[str, Any]) -> str:
    value = inputs["value"]  # pulumi-aws keeps a parameter's value secret: the mocks see the secret's wrapper
    text: str = value["value"] if isinstance(value, dict) else value
    return text


def test_the_call_map_names_every_callable_functions_targets_as_the_functions_env_does(gpu_run: Run) -> None:
    inputs, call_map = _call_map(gpu_run)
    assert inputs["name"] == "/toolkit/toolkit-gpu-demo/test/call-map" == gpu_run.outputs["call_map_parameter"]
    assert inputs["type"] == "String" and inputs["tier"] == "Intelligent-Tiering"  # Advanced only past 4 KB
    generate_env = gpu_run.mocks.one("aws:lambda/function:Function", "model-generate").inputs["environment"]["variables"]
    targets = json.loads(generate_env["TOOLKIT_FUNCTION_TARGETS"])
    callable_ = {tag: {"lambda_arn": f.lambda_arn, "state_machine_arn": f.state_machine_arn}
                 for tag, f in call_map.functions.items() if f.state_machine_arn}
    assert callable_ == targets  # the same targets a deployed function calls its siblings by
    assert targets["Model.generate"]["lambda_arn"].endswith(f":gpu-demo-test-model-generate:{ALIAS_NAME}")
    assert (call_map.app, call_map.region, call_map.calls_table) == ("gpu-demo", "us-east-1", "gpu-demo-test-calls")
    assert call_map.payload_bucket == gpu_run.outputs["payload_bucket"]
    infer = call_map.functions["infer"]  # a web endpoint: its URL, no call targets
    assert infer.kind == "fastapi_endpoint" and infer.url == gpu_run.outputs["endpoints"]["infer"]
    assert infer.lambda_arn is None and infer.state_machine_arn is None
    assert call_map.functions["Model.generate"].cls == "Model"
    assert call_map.classes == {"Model": (("size", "int", 1), ("name", "str", "base"))}


def test_the_parameter_name_is_what_a_lookup_derives_from_app_environment_and_region() -> None:
    # toolkit deploy runs the program in project toolkit-<app>, stack <env>-<region> (toolkit/deploy/names.py)
    name = stack_name("gpu-demo", None, region="eu-west-1")
    run = run_program(settings_for(load_fixture("gpu"), stack=name.stack, project=name.project, region="eu-west-1"))
    inputs, call_map = _call_map(run)
    assert inputs["name"] == parameter_name(name.project, name.stack) == "/toolkit/toolkit-gpu-demo/main-eu-west-1/call-map"
    assert call_map.region == "eu-west-1"


def test_the_parameter_is_valid_for_ssm(plain_run: Run, web_run: Run) -> None:
    """PutParameter's constraints from botocore's model: name pattern and length, value length (Advanced: 8 KB)."""
    shape = botocore.session.get_session().get_service_model("ssm").operation_model("PutParameter").input_shape
    name_max = shape.members["Name"].metadata["max"]
    for run in (plain_run, web_run):
        inputs, _ = _call_map(run)
        assert len(inputs["name"]) <= name_max and all(c.isalnum() or c in "_.-/" for c in inputs["name"])
        assert len(_value(inputs).encode()) <= 8192
        assert inputs["tier"] in shape.members["Tier"].enum


def test_bytes_parameter_defaults_round_trip() -> None:
    call_map = CallMap("a", "us-east-1", "t", None, {"C.m": MappedFunction("C.m", cls="C")},
                       {"C": (("key", "bytes", b"\x00\xff"), ("n", "int", None))})
    assert CallMap.loads(call_map.dumps(), "test").classes == call_map.classes


def test_each_function_carries_the_options_it_deploys_with(gpu_run: Run) -> None:
    """A looked-up handle's ``with_options`` derives the deployed variant's tag from these (toolkit/variants.py)."""
    from runtime import manifest as schema
    from runtime.callmap import deployed_options

    _, call_map = _call_map(gpu_run)
    entries = {e.tag: e for e in schema.load(load_fixture("gpu")).functions}
    assert {tag: dict(f.options or {}) for tag, f in call_map.functions.items()} == \
        {tag: deployed_options(entries[tag]) for tag in call_map.functions}
    train = call_map.functions["train"].options or {}
    assert (train["backend"], train["gpu"], train["memory"], train["timeout"]) == ("gpu", "A10G", 16384, 3600)


def test_every_function_carries_the_log_group_the_stack_created_for_it(gpu_run: Run) -> None:
    """``fn.logs`` of a deployed ECS/GPU function reads this group (a Lambda's is in its ARN too)."""
    _, call_map = _call_map(gpu_run)
    created = {r.inputs["name"] for r in gpu_run.mocks.of_type("aws:cloudwatch/logGroup:LogGroup")}
    groups = {tag: f.log_group for tag, f in call_map.functions.items()}
    assert set(groups) == {"Model.generate", "batch", "infer", "train"} and set(groups.values()) <= created
    assert groups["Model.generate"] == "/aws/lambda/gpu-demo-test-model-generate"  # Lambda's own name for it
    assert groups["train"] != groups["batch"] and all(g.startswith("/toolkit/gpu-demo-test/")
                                                      for t, g in groups.items() if t in ("batch", "train"))


def test_a_call_map_without_log_groups_still_loads() -> None:
    """Maps written before the field existed read as None: ``fn.logs`` then says to redeploy."""
    old = json.loads(CallMap("a", "us-east-1", "t", None, {"f": MappedFunction("f")}).dumps())
    del old["functions"]["f"]["log_group"]
    assert CallMap.loads(json.dumps(old), "test").functions["f"].log_group is None

"""``toolkit:sandboxes`` in the whole program (Pulumi mocks): the sandbox resources appear in the plan,
every function may drive sandboxes, and an app without the switch plans none of it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infra"))
from infra_mocks import parse_json  # noqa: E402
from infra_support import load_fixture, run_program, settings_for  # noqa: E402

from infra.config import settings_from  # noqa: E402
from toolkit.sandboxes.aws import config_from_outputs  # noqa: E402

TASK_DEF = "aws:ecs/taskDefinition:TaskDefinition"


def test_sandboxes_are_planned_when_switched_on():
    run = run_program(settings_for(load_fixture("web"), sandboxes=True))
    outputs = run.outputs["sandboxes"]
    assert outputs["container"] == "sandbox" and outputs["queue_prefix"].endswith("-sb-")
    assert outputs["subnets"] == ["subnet-a", "subnet-b"]
    families = [t.inputs["family"] for t in run.mocks.of_type(TASK_DEF)]
    assert any(f.endswith("-sandbox") for f in families)
    control = [r for r in run.mocks.of_type("aws:iam/policy:Policy") if r.name.endswith("-sandbox-control")]
    assert len(control) == 1
    actions = {a for s in parse_json(control[0].inputs["policy"])["Statement"] for a in s["Action"]}
    assert {"ecs:RunTask", "ecs:StopTask", "sqs:SendMessage", "dynamodb:Query"} <= actions
    attached = [r for r in run.mocks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if r.name.endswith("-sandbox-control")]
    assert len(attached) == len(run.result.functions) > 0
    [item] = run.mocks.of_type("aws:dynamodb/tableItem:TableItem")  # how a deployed function finds them
    stored = parse_json(parse_json(item.inputs["item"])["config"]["S"])
    assert stored["queue_prefix"] == outputs["queue_prefix"] and item.inputs["hashKey"] == "pk"
    config = config_from_outputs(outputs)  # what the control plane is configured with
    assert config.subnets == ("subnet-a", "subnet-b") and config.container == "sandbox"
    assert config.open_security_group != config.blocked_security_group


def test_no_sandbox_resources_without_the_switch():
    run = run_program(settings_for(load_fixture("web")))
    assert "sandboxes" not in run.outputs
    assert not [r for r in run.mocks.resources if "sandbox" in r.name]


def test_the_switch_is_the_toolkit_sandboxes_key():
    manifest = load_fixture("web")
    import json

    def get(key: str) -> str | None:
        return {"manifest": json.dumps(manifest), "sandboxes": "true"}.get(key)

    assert settings_from(get).sandboxes is True
    assert settings_from(lambda key: {"manifest": json.dumps(manifest)}.get(key)).sandboxes is False


def test_toolkit_plan_passes_the_switch_from_the_environment(monkeypatch):
    from toolkit.deploy.stack_config import SANDBOXES_ENV, stack_config
    from toolkit.deploy.target import Target

    manifest = load_fixture("web")
    monkeypatch.delenv(SANDBOXES_ENV, raising=False)
    assert stack_config(manifest, Target("aws", "eu-west-1"))["toolkit:sandboxes"] == ""
    monkeypatch.setenv(SANDBOXES_ENV, "true")
    assert stack_config(manifest, Target("aws", "eu-west-1"))["toolkit:sandboxes"] == "true"


def test_the_functions_images_and_gpu_capacity_are_planned_for_sandboxes():
    run = run_program(settings_for(load_fixture("gpu"), sandboxes=True))
    outputs = run.outputs["sandboxes"]
    key = "0" * 64  # the fixture's functions share one image spec
    assert list(outputs["images"]) == [key] and outputs["vpc_id"]
    config = config_from_outputs(outputs)
    assert sorted((v.gpu, v.count, v.image) for v in config.gpu) == [("A10G", 1, key), ("H100", 2, key)]
    assert {v.cluster for v in config.gpu} == {run.outputs["cluster_arn"].rsplit("/", 1)[1]}  # the app's cluster
    assert all(v.capacity_provider for v in config.gpu)
    gpu_tasks = [t.inputs for t in run.mocks.of_type(TASK_DEF) if t.inputs["family"].endswith("-sandbox")
                 and t.inputs["requiresCompatibilities"] == ["EC2"]]
    assert len(gpu_tasks) == 2 and all(t["networkMode"] == "bridge" for t in gpu_tasks)
    [control] = [r for r in run.mocks.of_type("aws:iam/policy:Policy") if r.name.endswith("-sandbox-control")]
    run_task = next(s for s in parse_json(control.inputs["policy"])["Statement"] if s["Action"] == ["ecs:RunTask"])
    assert len(run_task["Resource"]) == 4  # default, one image, two GPU variants
    assert len(run_task["Condition"]["ArnEquals"]["ecs:cluster"]) == 2


def test_the_control_plane_reads_the_planned_log_group_and_may_only_filter_it():
    run = run_program(settings_for(load_fixture("web"), sandboxes=True))
    config = config_from_outputs(run.outputs["sandboxes"])
    [group] = [g for g in run.mocks.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name.endswith("-sandboxes-logs")]
    assert config.log_group == group.inputs["name"]  # sb.logs (toolkit.sandboxes.aws_logs) reads where tasks write
    [control] = [r for r in run.mocks.of_type("aws:iam/policy:Policy") if r.name.endswith("-sandbox-control")]
    [logs] = [s for s in parse_json(control.inputs["policy"])["Statement"] if s["Action"] == ["logs:FilterLogEvents"]]
    assert all(r.split(":log-group:")[1].startswith(config.log_group) for r in logs["Resource"])


def _with_volume(name: str) -> dict:
    manifest = load_fixture("web")
    manifest["functions"][0]["volumes"] = [{"path": "/data", "name": name, "create_if_missing": True,
                                            "read_only": False}]
    return manifest


def test_sandboxes_may_mount_the_functions_volumes_through_a_role_of_their_own():
    run = run_program(settings_for(_with_volume("weights"), sandboxes=True))
    outputs = run.outputs["sandboxes"]
    config = config_from_outputs(outputs)
    assert config.volumes == ("weights",) and config.volumes_task_role
    roles = {r.name: r for r in run.mocks.of_type("aws:iam/role:Role")}
    assert any(n.endswith("-sandboxes-task-volumes") for n in roles)
    policies = run.mocks.of_type("aws:iam/rolePolicy:RolePolicy")
    s3_by_policy = {p.name: [s for s in parse_json(p.inputs["policy"])["Statement"]
                             if any(a.startswith("s3:") for a in s["Action"])] for p in policies}
    [volume_access] = [n for n, s3 in s3_by_policy.items() if s3 and "sandboxes" in n]
    assert volume_access.endswith("-task-volumes-access")  # only the volumes role may reach S3
    resources = [r for s in s3_by_policy[volume_access] for r in s["Resource"]]
    objects = [r for r in resources if "/" in r.split(":::")[-1]]
    assert objects and all(r.endswith("/volumes/weights/*") for r in objects)
    [control] = [r for r in run.mocks.of_type("aws:iam/policy:Policy") if r.name.endswith("-sandbox-control")]
    [pass_role] = [s for s in parse_json(control.inputs["policy"])["Statement"] if s["Action"] == ["iam:PassRole"]]
    assert config.volumes_task_role in pass_role["Resource"] and len(pass_role["Resource"]) == 3
    task = next(t for t in run.mocks.of_type(TASK_DEF) if t.inputs["family"].endswith("-sandbox"))
    [container] = parse_json(task.inputs["containerDefinitions"])
    assert "TOOLKIT_VOLUME_BUCKET" in {e["name"] for e in container["environment"]}


def test_without_function_volumes_no_sandbox_may_reach_a_volume():
    run = run_program(settings_for(load_fixture("web"), sandboxes=True))
    config = config_from_outputs(run.outputs["sandboxes"])
    assert config.volumes == () and config.volumes_task_role == ""
    assert not [p for p in run.mocks.of_type("aws:iam/rolePolicy:RolePolicy") if "task-volumes" in p.name]

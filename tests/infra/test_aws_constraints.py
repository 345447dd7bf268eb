"""AWS constraints over the planned resources (issue 14): each test names the finding it pins.

No AWS account exists here, so what ECS, ALB, IAM and CloudWatch would reject is encoded as
checks over what the program declares under Pulumi's mocks; API parameters are validated
against botocore's service models.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters
from infra_mocks import Recorded, parse_json
from infra_support import Run, load_fixture, run_program, settings_for

from infra.alb import ENDPOINT_PORTS, PRIORITY_STRIDE, endpoint_ports, rule_priorities
from infra.components.gpu import GPU_AMI_PARAMETER
from infra.config import ConfigError, settings_from
from infra.plan import plan_app
from infra.sizing import fargate_size, is_fargate_size

TASK_DEF = "aws:ecs/taskDefinition:TaskDefinition"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
SERVICE = "aws:ecs/service:Service"
LISTENER = "aws:lb/listener:Listener"
RULE = "aws:lb/listenerRule:ListenerRule"
_ECS = botocore.session.get_session().get_service_model("ecs")


def _api_params(asl: Any) -> Any:
    """ASL ``Parameters`` -> the ECS API's own parameters: camelCase keys, paths filled in."""
    if isinstance(asl, list):
        return [_api_params(v) for v in asl]
    if not isinstance(asl, dict):
        return asl
    out: dict[str, Any] = {}
    for key, value in asl.items():
        name = key.removesuffix(".$")
        out[name[0].lower() + name[1:]] = "from-path" if key.endswith(".$") else _api_params(value)
    return out


def check_run_task(params: dict[str, Any], network_mode: str) -> None:
    """What ECS RunTask accepts: the model's shape, and the rules the model cannot say."""
    api = _api_params(params)
    validate_parameters(api, _ECS.operation_model("RunTask").input_shape)
    assert ("launchType" in api) != ("capacityProviderStrategy" in api), "launchType and a strategy exclude each other"
    awsvpc = api.get("networkConfiguration", {}).get("awsvpcConfiguration")
    if network_mode != "awsvpc":
        assert awsvpc is None, "ECS rejects a network configuration for bridge/host tasks"
    if awsvpc is not None and "capacityProviderStrategy" in api:
        assert "assignPublicIp" not in awsvpc, "assignPublicIp is for Fargate only"


def _task_defs(run: Run) -> dict[str, Recorded]:
    return {r.inputs["family"]: r for r in run.mocks.of_type(TASK_DEF)}


def _run_worker(run: Run, name: str) -> dict[str, Any]:
    sm = run.mocks.one(STATE_MACHINE, f"{name}-worker")
    return dict(parse_json(sm.inputs["definition"])["States"]["RunWorker"])


def _container(task: Recorded) -> dict[str, Any]:
    return dict(parse_json(task.inputs["containerDefinitions"])[0])


def _with_endpoints(labels: list[str]) -> dict[str, Any]:
    """The web fixture with its web_server copied once per label (each an ALB endpoint)."""
    manifest = load_fixture("web")
    server = next(f for f in manifest["functions"] if f["tag"] == "server")
    manifest["functions"] = [f for f in manifest["functions"] if f["tag"] != "server"]
    for label in labels:
        fn = copy.deepcopy(server)
        fn["tag"] = fn["name"] = label
        fn["web"] = {**fn["web"], "label": label, "host": f"default--{label}"}
        manifest["functions"].append(fn)
    return manifest


def _gpu_manifest(**resources: Any) -> dict[str, Any]:
    manifest = load_fixture("gpu")
    for fn in manifest["functions"]:
        if fn["tag"] == "train":
            fn["resources"].update(resources)
    return manifest


# -- finding 1: GPU workers can start and reach AWS ------------------------------------------


def test_every_worker_run_task_is_one_ecs_accepts(gpu_run: Run, web_run: Run) -> None:
    for run in (gpu_run, web_run):
        families = _task_defs(run)
        for sm in run.mocks.of_type(STATE_MACHINE):
            task = parse_json(sm.inputs["definition"])["States"]["RunWorker"]
            if task["Resource"].endswith("ecs:runTask.sync"):
                family = task["Parameters"]["TaskDefinition"].rsplit("/", 1)[1].rsplit(":", 1)[0]
                check_run_task(task["Parameters"], families[family].inputs["networkMode"])


def test_every_task_definition_is_one_ecs_registers(gpu_run: Run, web_run: Run) -> None:
    shape = _ECS.operation_model("RegisterTaskDefinition").input_shape
    for run in (gpu_run, web_run):
        for task in run.mocks.of_type(TASK_DEF):
            inputs = task.inputs
            request = {
                "family": inputs["family"], "containerDefinitions": parse_json(inputs["containerDefinitions"]),
                "networkMode": inputs["networkMode"], "requiresCompatibilities": inputs["requiresCompatibilities"],
                "runtimePlatform": inputs["runtimePlatform"], "taskRoleArn": inputs["taskRoleArn"],
                "executionRoleArn": inputs["executionRoleArn"],
                **{k: inputs[k] for k in ("cpu", "memory") if k in inputs},
            }
            validate_parameters(request, shape)
            if inputs["requiresCompatibilities"] == ["FARGATE"]:
                assert inputs["networkMode"] == "awsvpc" and "cpu" in inputs and "memory" in inputs


def test_gpu_tasks_use_their_instance_network_to_reach_aws(gpu_run: Run) -> None:
    params = _run_worker(gpu_run, "train")["Parameters"]
    assert "NetworkConfiguration" not in params and "LaunchType" not in params
    assert params["CapacityProviderStrategy"][0]["CapacityProvider"] == "gpu-demo-test-train-gpu"
    tasks = _task_defs(gpu_run)
    for family in ("gpu-demo-test-train", "gpu-demo-test-infer"):
        assert tasks[family].inputs["networkMode"] == "bridge"
        assert _container(tasks[family])["portMappings"][0]["hostPort"] == 0  # dynamic port for the ALB
    assert tasks["gpu-demo-test-batch"].inputs["networkMode"] == "awsvpc"  # Fargate keeps awsvpc
    template = gpu_run.mocks.one("aws:ec2/launchTemplate:LaunchTemplate", "train").inputs
    nic = template["networkInterfaces"][0]
    assert nic["associatePublicIpAddress"] == "true" and "vpcSecurityGroupIds" not in template
    assert template["metadataOptions"]["httpPutResponseHopLimit"] == 1  # instance creds stay off containers
    train = {e["name"]: e["value"] for e in _container(tasks["gpu-demo-test-train"])["environment"]}
    assert train["AWS_REGION"] == train["AWS_DEFAULT_REGION"] == "us-east-1"  # no IMDS from the container
    script = base64.b64decode(template["userData"]).decode()
    assert "ECS_ENABLE_TASK_IAM_ROLE=true" in script  # task role credentials in bridge mode
    infer = gpu_run.mocks.one(SERVICE, "infer").inputs
    assert "networkConfiguration" not in infer and "launchType" not in infer
    assert gpu_run.mocks.one("aws:lb/targetGroup:TargetGroup", "infer").inputs["targetType"] == "instance"
    gpu_sg = gpu_run.mocks.one("aws:ec2/securityGroup:SecurityGroup", "gpu-sg")
    assert nic["securityGroups"] == [f"{gpu_sg.name}-id"]  # the mocks' id: the GPU group, not the tasks'
    assert [(i["fromPort"], i["toPort"]) for i in gpu_sg.inputs["ingress"]] == [(32768, 65535)]


def test_private_subnets_get_no_public_ips() -> None:
    run = run_program(settings_for(load_fixture("gpu"), subnet_ids=("subnet-p1", "subnet-p2"), private_subnets=True))
    batch = _run_worker(run, "batch")["Parameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert batch["AssignPublicIp"] == "DISABLED" and batch["Subnets"] == ["subnet-p1", "subnet-p2"]
    nic = run.mocks.one("aws:ec2/launchTemplate:LaunchTemplate", "train").inputs["networkInterfaces"][0]
    assert nic["associatePublicIpAddress"] == "false"


# -- finding 2: an ALB endpoint's printed URL answers without a domain -----------------------


def test_alb_endpoints_get_a_listener_port_of_their_own_without_a_domain(gpu_run: Run) -> None:
    mocks = gpu_run.mocks
    listener = mocks.one(LISTENER, "infer-ecs-listener").inputs
    port = int(listener["port"])
    assert port in ENDPOINT_PORTS and listener["protocol"] == "HTTP"
    tg = mocks.one("aws:lb/targetGroup:TargetGroup", "infer")
    assert listener["defaultActions"] == [{"type": "forward", "targetGroupArn": f"arn:aws:mock:us-east-1:123456789012:targetgroup/{tg.name}"}]
    alb = mocks.one("aws:lb/loadBalancer:LoadBalancer", "alb").inputs["name"]
    url = f"http://{alb}.us-east-1.elb.amazonaws.com:{port}"
    assert gpu_run.outputs["endpoints"]["infer"] == url == gpu_run.outputs["functions"]["infer"]["url"]
    assert {e["name"]: e["value"] for e in _container(_task_defs(gpu_run)["gpu-demo-test-infer"])["environment"]}[
        "TOOLKIT_WEB_URL"] == url
    alb_sg = mocks.one("aws:ec2/securityGroup:SecurityGroup", "alb-sg").inputs
    assert (ENDPOINT_PORTS.start, ENDPOINT_PORTS.stop - 1) in {(i["fromPort"], i["toPort"]) for i in alb_sg["ingress"]}
    assert gpu_run.mocks.one(RULE, "infer").inputs["conditions"][0]["hostHeader"]["values"] != ["default--gpu-demo-infer.*"]


def test_with_a_domain_endpoints_route_by_host_on_https(web_run: Run) -> None:
    assert not [r for r in web_run.mocks.of_type(LISTENER) if r.inputs["port"] in ENDPOINT_PORTS]
    assert web_run.outputs["endpoints"]["server"] == "https://default--web-demo-server.toolkit.example.com"


# -- finding 5: listener rule priorities do not move when endpoints come and go ---------------


def _priorities(labels: list[str]) -> dict[str, int]:
    run = run_program(settings_for(_with_endpoints(labels), base_domain="toolkit.example.com"))
    rules = run.mocks.of_type(RULE)
    return {r.inputs["conditions"][0]["hostHeader"]["values"][0].split(".")[0]: r.inputs["priority"] for r in rules}


def test_listener_rule_priorities_are_stable_per_endpoint() -> None:
    first = _priorities(["alpha", "beta", "gamma"])
    assert len(set(first.values())) == 3 and all(1 <= p <= 50000 for p in first.values())
    second = _priorities(["beta", "gamma", "delta"])  # alpha removed, delta added
    assert second["default--beta"] == first["default--beta"] and second["default--gamma"] == first["default--gamma"]


def test_colliding_labels_get_distinct_slots_deterministically() -> None:
    labels = [f"endpoint-{i}" for i in range(1500)]  # more than the port range: must collide
    priorities = rule_priorities(labels)
    assert len(set(priorities.values())) == len(labels) and rule_priorities(reversed(labels)) == priorities
    assert all(p % PRIORITY_STRIDE == 0 for p in priorities.values())
    ports = endpoint_ports(labels[:1000])
    assert sorted(ports.values()) == list(ENDPOINT_PORTS)  # every port used once
    with pytest.raises(ValueError, match="1500 endpoints"):
        endpoint_ports(labels)


# -- finding 6: a redeploy soon after a destroy can create its secrets again ------------------


def test_secrets_are_deleted_without_a_recovery_window(web_run: Run) -> None:
    secrets = web_run.mocks.of_type("aws:secretsmanager/secret:Secret")
    assert secrets and all(s.inputs["recoveryWindowInDays"] == 0 for s in secrets)


# -- finding 9: every Fargate task size is one Fargate accepts --------------------------------


def test_fargate_sizes_come_from_the_table() -> None:
    assert fargate_size(0.25, 1536) == (256, 2048)  # 256/1536 does not exist
    assert fargate_size(4, 31000) == (8192, 32768)
    assert not is_fargate_size(256, 1536) and is_fargate_size(16384, 122880)


def test_every_planned_fargate_task_has_a_valid_size(web_run: Run, gpu_run: Run) -> None:
    manifest = load_fixture("gpu")
    next(f for f in manifest["functions"] if f["tag"] == "batch")["resources"].update(cpu=0.25, memory=1536)
    quarter = run_program(settings_for(manifest))
    for run in (web_run, gpu_run, quarter):
        for task in run.mocks.of_type(TASK_DEF):
            if task.inputs["requiresCompatibilities"] == ["FARGATE"]:
                cpu, memory = int(task.inputs["cpu"]), int(task.inputs["memory"])
                assert is_fargate_size(cpu, memory), (task.inputs["family"], cpu, memory)
                assert _container(task)["memory"] == memory
    assert _task_defs(quarter)["gpu-demo-test-batch"].inputs["memory"] == "2048"


def test_an_oversized_fargate_request_fails_before_any_resource() -> None:
    manifest = load_fixture("gpu")
    next(f for f in manifest["functions"] if f["tag"] == "batch")["resources"].update(cpu=32, memory=4096)
    with pytest.raises(ConfigError, match="function 'batch': cpu=32 .* exceeds Fargate's largest task"):
        plan_app(settings_for(manifest))


def test_fargate_task_storage_stays_within_21_to_200_gib() -> None:
    manifest = load_fixture("gpu")
    batch = next(f for f in manifest["functions"] if f["tag"] == "batch")
    batch["resources"]["ephemeral_disk"] = 50 * 1024 + 1  # rounded up, never below what was asked
    run = run_program(settings_for(manifest))
    assert _task_defs(run)["gpu-demo-test-batch"].inputs["ephemeralStorage"] == {"sizeInGib": 51}
    batch["resources"]["ephemeral_disk"] = 300 * 1024
    with pytest.raises(ConfigError, match="function 'batch': ephemeral_disk=307200 MiB exceeds Fargate's 200 GiB"):
        plan_app(settings_for(manifest))


# -- finding 10: Step Functions logs under /aws/vendedlogs/ ------------------------------------


def test_state_machines_log_to_vended_log_groups(gpu_run: Run, plain_run: Run) -> None:
    for run in (gpu_run, plain_run):
        groups = {g.name: g.inputs["name"] for g in run.mocks.of_type("aws:cloudwatch/logGroup:LogGroup")}
        machines = run.mocks.of_type(STATE_MACHINE)
        assert machines
        for sm in machines:
            destination = sm.inputs["loggingConfiguration"]["logDestination"]
            group = destination.split(":log-group:", 1)[1].removesuffix(":*")
            assert group.startswith("/aws/vendedlogs/states/") and group in groups.values()


# -- finding 11: replacements do not collide with fixed names; two projects, two name sets ----


def test_replaceable_resources_do_not_hold_fixed_names(gpu_run: Run, web_run: Run) -> None:
    for run in (gpu_run, web_run):
        for tg in run.mocks.of_type("aws:lb/targetGroup:TargetGroup"):
            assert "name" not in tg.inputs and len(tg.inputs["namePrefix"]) <= 6
        for service in run.mocks.of_type(SERVICE):  # a fixed name: the old service goes first
            assert service.options["delete_before_replace"] is True


def test_the_repo_project_and_toolkit_deploy_declare_different_names() -> None:
    manifest = load_fixture("plain")
    names = {}
    for project in ("toolkit-plain-app", "toolkit", None):
        run = run_program(settings_for(manifest, project=project))
        names[project] = {r.inputs["name"] for r in run.mocks.resources if isinstance(r.inputs.get("name"), str)}
    assert names["toolkit-plain-app"] == names[None]
    assert "plain-app-test-square" in names[None]
    assert not (names["toolkit"] & names[None] - {"live"})  # only the alias name ("live") is shared


# -- finding 12: GPU containers are sized to their instance -----------------------------------


def test_gpu_containers_reserve_their_share_of_the_instance(gpu_run: Run) -> None:
    tasks = _task_defs(gpu_run)
    train = _container(tasks["gpu-demo-test-train"])  # A10G on g5.xlarge: 4 vCPU, 16 GiB
    assert "memory" not in train and 14000 <= train["memoryReservation"] <= 16384 and train["cpu"] == 4096
    infer = _container(tasks["gpu-demo-test-infer"])  # H100:2 of the 8 on a p5.48xlarge (2 TiB)
    assert "memory" not in infer and infer["memoryReservation"] >= 400 * 1024 and infer["cpu"] == 48 * 1024


def test_gpu_memory_beyond_the_instance_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"function 'train': memory=65536 MiB is more than 1 x A10G .*g5.xlarge"):
        plan_app(settings_for(_gpu_manifest(memory=65536)))


# -- findings 13, 14: the current GPU AMI and AWS's managed instance policy -------------------


def test_gpu_instances_use_al2023_and_the_managed_ecs_policy(gpu_run: Run) -> None:
    assert GPU_AMI_PARAMETER == "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id"
    asked = {args["name"] for token, args, _ in gpu_run.mocks.calls if token == "aws:ssm/getParameter:getParameter"}
    assert asked == {GPU_AMI_PARAMETER}
    attachment = gpu_run.mocks.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "train-gpu-instance-policy")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
    instance_roles = [r.name for r in gpu_run.mocks.of_type("aws:iam/role:Role") if "instance-role" in r.name]
    inline = [p for p in gpu_run.mocks.of_type("aws:iam/rolePolicy:RolePolicy") if "instance" in p.name]
    assert len(instance_roles) == 2 and not inline


# -- finding 15: a crashing image fails the deploy and rolls back -----------------------------


def test_services_roll_back_a_deployment_that_never_turns_healthy(web_run: Run, gpu_run: Run) -> None:
    services = web_run.mocks.of_type(SERVICE) + gpu_run.mocks.of_type(SERVICE)
    assert len(services) == 2
    for service in services:
        assert service.inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert service.inputs["waitForSteadyState"] is True


# -- finding 17: no default VPC, and private task subnets --------------------------------------


def test_an_account_without_a_default_vpc_gets_the_fix_named() -> None:
    from infra_mocks import RecordingMocks

    with pytest.raises(Exception) as caught:  # noqa: PT011 (Pulumi wraps the program's error)
        run_program(settings_for(load_fixture("gpu")), mocks=RecordingMocks(default_vpc=False))
    chain, exc = [], caught.value
    while exc is not None:
        chain.append(str(exc))
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    assert any("no default VPC in us-east-1" in m and "toolkit:subnetIds" in m and "TOOLKIT_SUBNET_IDS" in m
               for m in chain), chain


def test_the_load_balancer_gets_public_subnets_apart_from_private_task_subnets() -> None:
    run = run_program(settings_for(_with_endpoints(["api"]), subnet_ids=("subnet-private",),
                                   alb_subnet_ids=("subnet-pub-a", "subnet-pub-b"), private_subnets=True))
    alb = run.mocks.one("aws:lb/loadBalancer:LoadBalancer", "alb").inputs
    assert alb["subnets"] == ["subnet-pub-a", "subnet-pub-b"]
    service = run.mocks.one(SERVICE, "api").inputs["networkConfiguration"]
    assert service["subnets"] == ["subnet-private"] and service["assignPublicIp"] is False
    tg = run.mocks.one("aws:lb/targetGroup:TargetGroup", "api").inputs
    assert tg["vpcId"] == "vpc-0configured"  # read from the subnet: no default VPC needed
    assert not [c for c in run.mocks.calls if c[0] == "aws:ec2/getVpcs:getVpcs"]


def test_network_config_errors_name_the_fix() -> None:
    manifest = json.dumps(load_fixture("plain"))
    with pytest.raises(ConfigError, match="toolkit:vpcId is 'vpc-1' but toolkit:subnetIds is not set"):
        settings_from({"manifest": manifest, "vpcId": "vpc-1"}.get)
    keys = {"manifest": manifest, "subnetIds": '["s-1"]', "albSubnetIds": '["s-2"]', "privateSubnets": "true"}
    settings = settings_from(keys.get)
    assert (settings.subnet_ids, settings.alb_subnet_ids, settings.private_subnets) == (("s-1",), ("s-2",), True)


# -- finding 18: shared validation records survive the other stack's destroy ------------------


def test_validation_records_are_kept_and_alias_records_never_taken_over(web_run: Run) -> None:
    records = web_run.mocks.of_type("aws:route53/record:Record")
    validation = [r for r in records if r.inputs.get("type") == "CNAME"]
    aliases = [r for r in records if "aliases" in r.inputs]
    assert validation and aliases
    assert all(r.options["retain_on_delete"] for r in validation)
    assert not any(r.options["retain_on_delete"] for r in aliases)
    assert all(r.inputs["allowOverwrite"] is False for r in aliases)


# -- finding 21: partitions, log retention, certificates only where used, CloudFront over HTTPS


def test_cloudfront_reaches_an_alb_endpoint_over_https_without_a_base_domain(gpu_run: Run) -> None:
    mocks = gpu_run.mocks  # "infer": GPU endpoint with custom_domains=["infer.example.com"], no base domain
    origin_name = "default--gpu-demo-infer.example.com"  # its host, in the custom domain's zone
    origin = mocks.one("aws:cloudfront/distribution:Distribution", "infer").inputs["origins"][0]
    assert origin["domainName"] == origin_name
    assert origin["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    cert = mocks.one("aws:acm/certificate:Certificate", "origin-cert")
    assert cert.inputs["domainName"] == origin_name and "gpu-demo-test-aws::" in cert.provider  # regional
    https = mocks.one(LISTENER, "ecs-https").inputs
    assert https["protocol"] == "HTTPS" and https["certificateArn"].endswith("origin-cert-cert")
    rule = mocks.one(RULE, "infer").inputs
    assert rule["conditions"] == [{"hostHeader": {"values": [origin_name]}}]
    alias = [r for r in mocks.of_type("aws:route53/record:Record") if r.inputs.get("name") == origin_name]
    assert len(alias) == 1 and alias[0].inputs["aliases"][0]["name"].endswith(".elb.amazonaws.com")
    http = next(r for r in mocks.of_type(LISTENER) if r.name.endswith("ecs-http"))
    assert http.inputs["defaultActions"][0]["type"] == "redirect"  # 80 -> 443


def test_alb_endpoints_without_custom_domains_get_no_origin_certificate() -> None:
    run = run_program(settings_for(_with_endpoints(["api"])))
    assert not [c for c in run.mocks.of_type("aws:acm/certificate:Certificate") if "origin" in c.name]
    assert not run.mocks.of_type(RULE)
    assert int(run.mocks.one(LISTENER, "api-ecs-listener").inputs["port"]) in ENDPOINT_PORTS


def test_arns_follow_the_partition_of_the_region() -> None:
    run = run_program(settings_for(load_fixture("gpu"), region="cn-north-1"))
    machines = run.mocks.of_type(STATE_MACHINE)
    for sm in machines:
        for state in parse_json(sm.inputs["definition"])["States"].values():
            assert not state.get("Resource", "arn:aws-cn:").startswith("arn:aws:"), state
    env = run.mocks.one("aws:lambda/function:Function", "model-generate").inputs["environment"]["variables"]
    assert env["TOOLKIT_STATE_MACHINE_ARN"].startswith("arn:aws-cn:states:cn-north-1:")
    attachment = run.mocks.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "train-gpu-instance-policy")
    assert attachment.inputs["policyArn"].startswith("arn:aws-cn:iam::aws:policy/")
    policies = [r.inputs["policy"] for r in run.mocks.resources if isinstance(r.inputs.get("policy"), str)]
    # (the mocks' own computed ARNs say arn:aws:...:us-east-1; none the program builds may)
    assert policies and not [p for p in policies if re.search(r"arn:aws:[a-z0-9-]+:cn-north-1", p)]


def test_log_retention_must_be_a_cloudwatch_value() -> None:
    manifest = json.dumps(load_fixture("plain"))
    with pytest.raises(ConfigError, match="toolkit:logRetentionDays is '10'; use one of 1, 3, 5, 7, 14"):
        settings_from({"manifest": manifest, "logRetentionDays": "10"}.get)
    assert settings_from({"manifest": manifest, "logRetentionDays": "731"}.get).log_retention_days == 731


def test_no_workspace_certificate_for_an_app_without_web_endpoints() -> None:
    run = run_program(settings_for(load_fixture("plain"), base_domain="toolkit.example.com"))
    assert not run.mocks.of_type("aws:acm/certificate:Certificate")
    assert not run.mocks.of_type("aws:route53/record:Record")


# -- finding 4 (infra part): the architecture images are built for ----------------------------


def test_architecture_reaches_lambda_and_fargate_but_not_gpu_instances() -> None:
    run = run_program(settings_for(load_fixture("gpu"), architecture="arm64"))
    assert run.mocks.one("aws:lambda/function:Function", "model-generate").inputs["architectures"] == ["arm64"]
    tasks = _task_defs(run)
    assert tasks["gpu-demo-test-batch"].inputs["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    assert tasks["gpu-demo-test-train"].inputs["runtimePlatform"]["cpuArchitecture"] == "X86_64"
    default = run_program(settings_for(load_fixture("plain")))
    assert default.mocks.one("aws:lambda/function:Function", "square").inputs["architectures"] == ["x86_64"]
    with pytest.raises(ConfigError, match="toolkit:architecture is 'arm'; use one of x86_64, arm64"):
        settings_from({"manifest": json.dumps(load_fixture("plain")), "architecture": "arm"}.get)

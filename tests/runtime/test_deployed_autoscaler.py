"""``Function.update_autoscaler()`` on a deployed function (looked up through its call map), on moto:
a Lambda function's reserved concurrency (max_containers) and an ECS web service's Application Auto
Scaling range and desired count (min/max_containers), asserted through describe calls.  moto has no
provisioned concurrency API, so the min_containers request on a Lambda alias is checked against
botocore's service model instead (unverified: AWS applying it).  The resource names are infra's:
checked here against the infra plan of the same app."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

import toolkit
from infra.config import settings_from
from infra.plan import plan_app
from runtime.awsclients import client
from runtime.callmap import CallMap, MappedFunction, parameter_name
from toolkit.deploy.autoscaler import LambdaScaling, ServiceScaling, deployed_names
from toolkit.deploy.names import stack_name
from toolkit.deploy.offline import placeholder_images
from toolkit.deploy.stack_config import stack_config
from toolkit.deploy.target import Target
from toolkit.exception import NotSupportedError
from toolkit.manifest import build_manifest

pytestmark = pytest.mark.timeout(120)

REGION = "us-east-1"
ACCOUNT = "123456789012"


def _valid(service: str, operation: str, params: dict[str, Any]) -> None:
    from botocore.session import get_session
    from botocore.validate import ParamValidator

    shape = get_session().get_service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


def _publish_call_map(app: str, aws: Any, functions: dict[str, MappedFunction]) -> None:
    stack = stack_name(app, None, region=REGION)
    call_map = CallMap(app, REGION, aws.table, aws.bucket, functions)
    client("ssm").put_parameter(Name=parameter_name(stack.project, stack.stack), Value=call_map.dumps(), Type="String")


def _lambda(name: str) -> str:
    role = client("iam").create_role(RoleName=f"{name}-role"[:64], AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    lam = client("lambda")
    lam.create_function(FunctionName=name, Role=role, PackageType="Image", Publish=True,
                        Code={"ImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/toolkit/x@sha256:{'a' * 64}"})
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:live"


def _service(cluster: str, service: str, desired: int, low: int, high: int) -> None:
    ecs = client("ecs")
    ecs.create_cluster(clusterName=cluster)
    task = ecs.register_task_definition(family=service, containerDefinitions=[
        {"name": "app", "image": "x", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=task, desiredCount=desired)
    client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs", ResourceId=f"service/{cluster}/{service}", ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=low, MaxCapacity=high)


def _scaling_range(cluster: str, service: str) -> tuple[int, int]:
    (target,) = client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{cluster}/{service}"])["ScalableTargets"]
    return target["MinCapacity"], target["MaxCapacity"]


def _desired(cluster: str, service: str) -> int:
    (found,) = client("ecs").describe_services(cluster=cluster, services=[service])["services"]
    return int(found["desiredCount"])


@pytest.fixture
def app_name(aws: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("TOOLKIT_ENVIRONMENT", raising=False)
    return f"scale-{uuid.uuid4().hex[:6]}"  # a new name: lookups are cached per app name


def test_max_containers_sets_a_deployed_lambdas_reserved_concurrency(aws: Any, app_name: str) -> None:
    names = deployed_names(app_name, "square", None, REGION)
    _publish_call_map(app_name, aws, {"square": MappedFunction("square", lambda_arn=_lambda(names.function))})
    square = toolkit.Function.from_name(app_name, "square")
    settings = square.update_autoscaler(max_containers=7)
    assert client("lambda").get_function_concurrency(FunctionName=names.function)["ReservedConcurrentExecutions"] == 7
    assert settings.max_containers == 7
    square.update_autoscaler(max_containers=3)
    assert client("lambda").get_function_concurrency(FunctionName=names.function)["ReservedConcurrentExecutions"] == 3


def test_a_lambda_web_endpoint_is_found_by_infras_name(aws: Any, app_name: str) -> None:
    """Web endpoints are not in the call map's invoke targets: their Lambda is found by name."""
    names = deployed_names(app_name, "hello", None, REGION)
    _lambda(names.function)
    _publish_call_map(app_name, aws, {"hello": MappedFunction("hello", kind="fastapi_endpoint", url="https://x")})
    toolkit.Function.from_name(app_name, "hello").update_autoscaler(max_containers=4)
    assert client("lambda").get_function_concurrency(FunctionName=names.function)["ReservedConcurrentExecutions"] == 4


def test_min_containers_on_lambda_is_a_valid_provisioned_concurrency_request() -> None:
    scaling = LambdaScaling(None, "demo-main-us-east-1-square")
    _valid("lambda", "PutProvisionedConcurrencyConfig", scaling.provisioned_request(2))
    _valid("lambda", "DeleteProvisionedConcurrencyConfig", {"FunctionName": scaling.function, "Qualifier": "live"})
    _valid("lambda", "PutFunctionConcurrency", scaling.reserved_request(5))
    assert scaling.provisioned_request(2)["Qualifier"] == "live"  # the alias every caller invokes
    service = ServiceScaling(None, None, "demo-main-us-east-1", "demo-main-us-east-1-web")
    _valid("application-autoscaling", "RegisterScalableTarget", service.target_request(1, 4))


def test_an_ecs_web_services_range_and_desired_count_follow(aws: Any, app_name: str) -> None:
    names = deployed_names(app_name, "web", None, REGION)
    _service(names.cluster, names.function, desired=1, low=1, high=3)
    _publish_call_map(app_name, aws, {"web": MappedFunction("web", kind="asgi_app", url="https://x")})
    web = toolkit.Function.from_name(app_name, "web")
    settings = web.update_autoscaler(min_containers=2, max_containers=5)
    assert _scaling_range(names.cluster, names.function) == (2, 5)
    assert _desired(names.cluster, names.function) == 2  # moved into the new range now
    assert (settings.min_containers, settings.max_containers) == (2, 5)
    web.update_autoscaler(max_containers=1, min_containers=0)  # 0: still one task, the ALB cannot wake it
    assert _scaling_range(names.cluster, names.function) == (1, 1)
    assert _desired(names.cluster, names.function) == 1


def test_without_a_function_or_service_and_for_idle_options_it_refuses_naming_the_fix(aws: Any,
                                                                                      app_name: str) -> None:
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{app_name}-main-us-east-1-batch-worker"
    _publish_call_map(app_name, aws, {"batch": MappedFunction("batch", state_machine_arn=machine)})
    batch = toolkit.Function.from_name(app_name, "batch")
    with pytest.raises(NotSupportedError, match="runs one task per call.*toolkit deploy"):
        batch.update_autoscaler(max_containers=3)
    with pytest.raises(NotSupportedError, match="pass only min_containers and max_containers"):
        batch.update_autoscaler(scaledown_window=30)


def test_the_names_are_the_ones_infra_plans() -> None:
    app = toolkit.App("naming-check-with-a-rather-long-application-name")

    @app.function()
    def square(x: int) -> int:
        return x * x

    @app.function(backend="ecs")
    @toolkit.asgi_app()
    def a_web_service_with_a_long_function_name() -> Any:
        return None

    manifest = build_manifest(app)
    stack = stack_name(app.app_name, None, region=REGION)
    config = stack_config(manifest, Target("aws", REGION), images=placeholder_images(manifest))
    planned = plan_app(settings_from(lambda key: config.get(f"toolkit:{key}"), stack=stack.stack,
                                     default_region=REGION, project=stack.project))
    for fn in planned.functions:
        names = deployed_names(app.app_name, fn.tag, None, REGION)
        assert (names.function, names.cluster) == (fn.name, planned.prefix)

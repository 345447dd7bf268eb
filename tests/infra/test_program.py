"""The Pulumi program under the mock runtime: resources exist, are wired, and are safe."""

from __future__ import annotations

import json
from typing import Any

from infra_mocks import parse_json
from infra_support import DIGEST, Run, load_fixture, run_program, settings_for

from infra.components.ecs import HEALTH_PATH, SERVER_COMMAND
from infra.components.gpu import GPU_AMI_PARAMETER
from infra.components.lambda_function import ALIAS_NAME
from infra.providers import EMULATED_SERVICES

LAMBDA = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
# Actions that accept only Resource "*" (AWS service authorization reference).
RESOURCELESS_ACTIONS = {
    "ecr:GetAuthorizationToken", "ecs:Poll", "ecs:StartTelemetrySession", "ecs:PutSystemLogEvents",
    "ecs:DiscoverPollEndpoint", "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "cloudwatch:GetMetricData",  # fn.stats() inside a function: AWS defines no resource type for it
}
ENV_KEYS = {
    "TOOLKIT_MANIFEST", "TOOLKIT_FUNCTION", "TOOLKIT_CALLS_TABLE", "TOOLKIT_PAYLOAD_BUCKET",
    "TOOLKIT_STATE_MACHINE_ARN", "TOOLKIT_SECRET_ARNS",
}


def _policies(run: Run) -> list[dict[str, Any]]:
    docs = [parse_json(r.inputs["policy"]) for r in run.mocks.resources if "policy" in r.inputs]
    docs += [parse_json(r.inputs["assumeRolePolicy"]) for r in run.mocks.of_type("aws:iam/role:Role")]
    return [d for d in docs if "Statement" in d]  # ECR lifecycle policies are not IAM


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- wiring -------------------------------------------------------------------------------


def test_lambda_functions_run_the_configured_image_with_the_runtime_env(web_run: Run) -> None:
    functions = {r.inputs["name"]: r.inputs for r in web_run.mocks.of_type(LAMBDA)}
    assert set(functions) == {"web-demo-test-api", "web-demo-test-hello", "web-demo-test-legacy"}
    hello = functions["web-demo-test-hello"]
    assert hello["packageType"] == "Image" and hello["imageUri"].endswith("@" + DIGEST)
    assert hello["role"].endswith(":role/web-demo-test-hello-fn")
    env = hello["environment"]["variables"]
    assert set(env) >= ENV_KEYS
    assert env["TOOLKIT_MANIFEST"] == "/var/task/toolkit-manifest.json" and env["TOOLKIT_FUNCTION"] == "hello"
    assert env["TOOLKIT_STATE_MACHINE_ARN"].endswith(":stateMachine:web-demo-test-hello-worker")
    assert env["TOOLKIT_WEB_URL"] == "https://default--web-demo-hello.toolkit.example.com"
    assert sorted(a.rsplit(":", 1)[1].rsplit("-", 1)[0] for a in json.loads(env["TOOLKIT_SECRET_ARNS"])) == [
        "toolkit/web-demo-test/inline-3f2a9c1b", "toolkit/web-demo-test/my-web-auth-token",
    ]
    assert hello["loggingConfig"]["logGroup"] == "/aws/lambda/web-demo-test-hello"


def test_each_endpoint_gets_an_http_api_throttled_and_routed_to_its_alias(web_run: Run) -> None:
    mocks = web_run.mocks
    assert len(mocks.of_type("aws:apigatewayv2/api:Api")) == 3
    for stage in mocks.of_type("aws:apigatewayv2/stage:Stage"):
        assert stage.inputs["defaultRouteSettings"] == {"throttlingRateLimit": 200, "throttlingBurstLimit": 1000}
    integration = mocks.one("aws:apigatewayv2/integration:Integration", "hello")
    assert integration.inputs["integrationUri"].endswith(f":function:web-demo-test-hello:{ALIAS_NAME}")
    assert integration.inputs["payloadFormatVersion"] == "2.0"
    assert mocks.one("aws:apigatewayv2/route:Route", "hello").inputs["routeKey"] == "$default"
    permission = mocks.one("aws:lambda/permission:Permission", "hello-route")
    assert permission.inputs["principal"] == "apigateway.amazonaws.com" and permission.inputs["qualifier"] == ALIAS_NAME
    domain = mocks.one("aws:apigatewayv2/domainName:DomainName", "hello")
    assert domain.inputs["domainName"] == "default--web-demo-hello.toolkit.example.com"
    assert domain.inputs["domainNameConfiguration"]["certificateArn"].endswith("web-demo-test-workspace-cert-cert")
    assert mocks.one("aws:apigatewayv2/apiMapping:ApiMapping", "hello")


def test_workspace_urls_and_wildcard_certificate(web_run: Run) -> None:
    assert web_run.outputs["endpoints"] == {
        tag: f"https://default--web-demo-{tag}.toolkit.example.com" for tag in ("api", "hello", "legacy", "server")
    }
    cert = web_run.mocks.one("aws:acm/certificate:Certificate", "workspace-cert")
    assert cert.inputs["domainName"] == "*.toolkit.example.com" and cert.inputs["validationMethod"] == "DNS"
    assert cert.provider.split("::")[-2].endswith("web-demo-test-aws")  # regional: default provider


def test_custom_domains_go_through_cloudfront_with_a_us_east_1_certificate(web_run: Run) -> None:
    mocks = web_run.mocks
    cert = mocks.one("aws:acm/certificate:Certificate", "hello-front")
    assert cert.inputs["domainName"] == "api.example.com"
    assert cert.inputs["subjectAlternativeNames"] == ["example.com", "*.apps.example.com"]
    assert "web-demo-test-aws-us-east-1::" in cert.provider
    us_east_1 = next(r for r in mocks.of_type("pulumi:providers:aws") if r.name.endswith("us-east-1"))
    assert us_east_1.inputs["region"] == "us-east-1"
    validation = mocks.one("aws:acm/certificateValidation:CertificateValidation", "hello-front")
    assert "web-demo-test-aws-us-east-1::" in validation.provider and len(validation.inputs["validationRecordFqdns"]) == 3
    dist = mocks.one("aws:cloudfront/distribution:Distribution", "hello")
    assert dist.inputs["aliases"] == ["api.example.com", "example.com", "*.apps.example.com"]
    # the origin is the endpoint's streaming Function URL (tests/infra/test_streaming_url.py)
    stream_host = web_run.outputs["functions"]["hello"]["stream_url"].removeprefix("https://").rstrip("/")
    assert dist.inputs["origins"][0]["domainName"] == stream_host
    records = {(r.inputs["name"], r.inputs["type"]) for r in mocks.of_type("aws:route53/record:Record") if "aliases" in r.inputs}
    for domain in ("api.example.com", "example.com", "*.apps.example.com"):  # apex, subdomain, wildcard
        assert {(domain, "A"), (domain, "AAAA")} <= records
    zone_lookups = {args["name"] for token, args, _ in mocks.calls if token == "aws:route53/getZone:getZone"}
    assert zone_lookups == {"example.com"}
    assert web_run.outputs["custom_domain_urls"]["hello"][0] == "https://api.example.com"


def test_web_server_runs_on_fargate_behind_the_alb(web_run: Run) -> None:
    mocks = web_run.mocks
    task = mocks.one("aws:ecs/taskDefinition:TaskDefinition", "server")
    container = parse_json(task.inputs["containerDefinitions"])[0]
    assert container["command"] == SERVER_COMMAND and container["portMappings"][0]["containerPort"] == 8080
    assert container["image"].endswith("@" + DIGEST) and task.inputs["requiresCompatibilities"] == ["FARGATE"]
    assert {e["name"] for e in container["environment"]} >= ENV_KEYS | {"TOOLKIT_WEB_URL"}
    assert task.inputs["taskRoleArn"].endswith(":role/web-demo-test-server-fn")
    tg = mocks.one("aws:lb/targetGroup:TargetGroup", "server")
    assert tg.inputs["healthCheck"]["path"] == HEALTH_PATH == "/__toolkit/health"
    rule = mocks.one("aws:lb/listenerRule:ListenerRule", "server")
    assert rule.inputs["conditions"][0]["hostHeader"]["values"] == ["default--web-demo-server.toolkit.example.com"]
    https = mocks.one("aws:lb/listener:Listener", "https")
    assert https.inputs["protocol"] == "HTTPS" and https.inputs["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    target = mocks.one("aws:appautoscaling/target:Target", "server")
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (1, 4)
    assert mocks.one("aws:appautoscaling/policy:Policy", "server").inputs["policyType"] == "TargetTrackingScaling"
    service = mocks.one("aws:ecs/service:Service", "server")
    assert service.inputs["launchType"] == "FARGATE" and service.inputs["desiredCount"] == 1


def test_gpu_function_gets_spot_capacity_from_zero(gpu_run: Run) -> None:
    mocks = gpu_run.mocks
    ami_calls = [args for token, args, _ in mocks.calls if token == "aws:ssm/getParameter:getParameter"]
    assert ami_calls and ami_calls[0]["name"] == GPU_AMI_PARAMETER
    template = mocks.one("aws:ec2/launchTemplate:LaunchTemplate", "train")
    assert template.inputs["imageId"] == "ami-0123456789abcdef0"
    asg = mocks.one("aws:autoscaling/group:Group", "train")
    assert asg.inputs["minSize"] == 0
    policy = asg.inputs["mixedInstancesPolicy"]
    assert [o["instanceType"] for o in policy["launchTemplate"]["overrides"]] == ["g5.xlarge"]
    assert policy["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"] == 0
    capacity = mocks.one("aws:ecs/capacityProvider:CapacityProvider", "train")
    assert capacity.inputs["autoScalingGroupProvider"]["managedScaling"]["status"] == "ENABLED"
    h100 = mocks.one("aws:autoscaling/group:Group", "infer").inputs["mixedInstancesPolicy"]
    assert [o["instanceType"] for o in h100["launchTemplate"]["overrides"]] == ["p5.48xlarge"]
    task = mocks.one("aws:ecs/taskDefinition:TaskDefinition", "train")
    container = parse_json(task.inputs["containerDefinitions"])[0]
    assert container["resourceRequirements"] == [{"type": "GPU", "value": "1"}]
    assert task.inputs["requiresCompatibilities"] == ["EC2"]
    providers = mocks.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders", "capacity").inputs
    assert set(providers["capacityProviders"]) >= {"FARGATE", capacity.inputs["name"]}


def test_long_and_gpu_workers_run_ecs_tasks_with_manifest_timeouts(gpu_run: Run) -> None:
    machines = {r.inputs["name"]: parse_json(r.inputs["definition"]) for r in gpu_run.mocks.of_type("aws:sfn/stateMachine:StateMachine")}
    train = machines["gpu-demo-test-train-worker"]["States"]["RunWorker"]
    assert train["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert train["TimeoutSeconds"] == 3600 + 600
    assert train["Parameters"]["CapacityProviderStrategy"][0]["CapacityProvider"] == "gpu-demo-test-train-gpu"
    assert train["Parameters"]["TaskDefinition"].endswith("task-definition/gpu-demo-test-train:1")
    assert train["Retry"][-1]["MaxAttempts"] == 1 and train["Retry"][-1]["IntervalSeconds"] == 5
    batch = machines["gpu-demo-test-batch-worker"]["States"]["RunWorker"]
    assert batch["Parameters"]["LaunchType"] == "FARGATE"
    generate = machines["gpu-demo-test-model-generate-worker"]["States"]["RunWorker"]
    assert generate["Resource"] == "arn:aws:states:::lambda:invoke"
    assert generate["Parameters"]["Payload"]["function"] == "Model.generate"
    for sm in gpu_run.mocks.of_type("aws:sfn/stateMachine:StateMachine"):
        assert sm.inputs["type"] == "STANDARD"


def test_plain_function_has_worker_concurrency_and_outputs(plain_run: Run) -> None:
    mocks = plain_run.mocks
    fn = mocks.one(LAMBDA, "square").inputs
    assert fn["reservedConcurrentExecutions"] == 5 and fn["timeout"] == 300
    warm = mocks.one("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig", "square")
    assert warm.inputs["provisionedConcurrentExecutions"] == 1 and warm.inputs["qualifier"] == ALIAS_NAME
    definition = parse_json(mocks.one("aws:sfn/stateMachine:StateMachine", "square").inputs["definition"])
    task = definition["States"]["RunWorker"]
    assert task["Parameters"]["FunctionName"].endswith(f":function:plain-app-test-square:{ALIAS_NAME}")
    assert task["Retry"][-1]["MaxAttempts"] == 2 and task["TimeoutSeconds"] == 300
    assert definition["States"]["MarkFailed"]["Parameters"]["TableName"] == "plain-app-test-calls"
    sfn_policy = parse_json(mocks.one(ROLE_POLICY, "square-worker-policy").inputs["policy"])
    updates = [s for s in sfn_policy["Statement"] if s["Action"] == ["dynamodb:UpdateItem"]]
    assert len(updates) == 1 and updates[0]["Resource"] == ["arn:aws:dynamodb:us-east-1:123456789012:table/plain-app-test-calls"]
    assert not mocks.of_type("aws:apigatewayv2/api:Api") and not mocks.of_type("aws:ecs/cluster:Cluster")
    square = plain_run.outputs["functions"]["square"]
    assert square["state_machine_arn"].endswith(":plain-app-test-square-worker") and square["url"] is None
    assert square["function_arn"].endswith(":function:plain-app-test-square")
    assert set(plain_run.outputs["secrets"]) == {"my-web-auth-token"}


def test_outputs_resolve_inside_apply() -> None:
    seen: list[str] = []

    def check(outputs: dict[str, Any]) -> None:
        assert outputs["calls_table"] == "plain-app-test-calls"
        assert outputs["repository_url"].endswith("/toolkit/plain-app-test")
        seen.append("checked")

    run_program(settings_for(load_fixture("plain")), check)
    assert seen == ["checked"]


def test_registry_only_declares_just_the_repository() -> None:
    manifest = load_fixture("web")
    run = run_program(settings_for(manifest, images={}, registry_only=True))
    types = {r.typ for r in run.mocks.resources if r.typ.startswith("aws:")}
    assert types == {"aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy", "aws:ecr/repositoryPolicy:RepositoryPolicy"}
    repo = run.mocks.one("aws:ecr/repository:Repository", "registry")
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["forceDelete"] is True  # destroy must not fail on a repository holding images
    assert json.loads(run.mocks.one("aws:ecr/lifecyclePolicy:LifecyclePolicy", "registry").inputs["policy"])["rules"]


# -- policy assertions ----------------------------------------------------------------------


def test_no_statement_allows_every_action_on_every_resource(web_run: Run, gpu_run: Run, plain_run: Run) -> None:
    for run in (web_run, gpu_run, plain_run):
        documents = _policies(run)
        assert len(documents) >= 5
        for doc in documents:
            for statement in doc["Statement"]:
                actions = _as_list(statement.get("Action", []))
                resources = _as_list(statement.get("Resource", []))
                assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement
                if "*" in resources:  # only actions AWS offers no resource-level permission for
                    assert set(actions) <= RESOURCELESS_ACTIONS, statement


def test_secret_grants_name_exactly_the_functions_secrets(web_run: Run) -> None:
    hello = parse_json(web_run.mocks.one(ROLE_POLICY, "hello-identity").inputs["policy"])
    grants = [s for s in hello["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]]
    assert len(grants) == 1 and len(grants[0]["Resource"]) == 2
    api = parse_json(web_run.mocks.one(ROLE_POLICY, "api-identity").inputs["policy"])
    assert not [s for s in api["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]]
    start = [s for s in hello["Statement"] if s["Action"] == ["states:StartExecution"]]
    assert start[0]["Resource"] == ["arn:aws:states:us-east-1:123456789012:stateMachine:web-demo-test-hello-worker"]
    secrets = {r.inputs["name"] for r in web_run.mocks.of_type("aws:secretsmanager/secret:Secret")}
    assert secrets == {"toolkit/web-demo-test/my-web-auth-token", "toolkit/web-demo-test/inline-3f2a9c1b"}
    assert all("secretString" not in r.inputs for r in web_run.mocks.resources)


def test_payload_bucket_is_private_encrypted_and_expiring(web_run: Run) -> None:
    mocks = web_run.mocks
    block = mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "payloads").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    sse = mocks.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "payloads")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] in ("AES256", "aws:kms")
    lifecycle = mocks.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "payloads")
    assert lifecycle.inputs["rules"][0]["expiration"]["days"] == 7
    buckets = mocks.of_type("aws:s3/bucket:Bucket")
    assert len(buckets) == len(mocks.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"))


def test_cloudfront_redirects_to_https_with_modern_tls(web_run: Run, gpu_run: Run) -> None:
    distributions = web_run.mocks.of_type("aws:cloudfront/distribution:Distribution") + gpu_run.mocks.of_type(
        "aws:cloudfront/distribution:Distribution")
    assert len(distributions) == 2
    for dist in distributions:
        assert dist.inputs["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"
        assert dist.inputs["viewerCertificate"]["minimumProtocolVersion"] in ("TLSv1.2_2021", "TLSv1.3_2025")


def test_every_log_group_has_retention(web_run: Run, gpu_run: Run, plain_run: Run) -> None:
    for run in (web_run, gpu_run, plain_run):
        groups = run.mocks.of_type("aws:cloudwatch/logGroup:LogGroup")
        assert groups and all(g.inputs.get("retentionInDays") == 30 for g in groups)


def test_calls_table_has_ttl_pitr_and_encryption(plain_run: Run) -> None:
    table = plain_run.mocks.one("aws:dynamodb/table:Table", "calls").inputs
    assert table["billingMode"] == "PAY_PER_REQUEST" and table["hashKey"] == "call_id"
    # call_id, and the keys of the sparse "pending" index batched workers query (tests/infra/test_pending_index.py)
    assert table["attributes"] == [{"name": "call_id", "type": "S"}, {"name": "pending_key", "type": "S"},
                                   {"name": "created_at", "type": "N"}]
    assert table["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert table["pointInTimeRecovery"]["enabled"] is True and table["serverSideEncryption"]["enabled"] is True


# -- emulator mode ----------------------------------------------------------------------------


def test_emulator_endpoint_reaches_every_provider() -> None:
    endpoint = "http://localhost:4566"
    run = run_program(settings_for(load_fixture("web"), base_domain="toolkit.example.com", emulator_endpoint=endpoint))
    providers = run.mocks.of_type("pulumi:providers:aws")
    assert {p.inputs["region"] for p in providers} == {"us-east-1"} and len(providers) == 2
    expected = {s.rstrip("_") for s in EMULATED_SERVICES}
    for provider in providers:
        endpoints = parse_json(provider.inputs["endpoints"])[0]
        assert set(endpoints) == expected and set(endpoints.values()) == {endpoint}
        assert provider.inputs["s3UsePathStyle"] in (True, "true")
        for flag in ("skipCredentialsValidation", "skipMetadataApiCheck", "skipRequestingAccountId"):
            assert provider.inputs[flag] in (True, "true"), flag
    # Every AWS resource goes through one of the two explicit providers.
    names = {p.name for p in providers}
    aws_resources = [r for r in run.mocks.resources if r.typ.startswith("aws:")]
    assert aws_resources and all(r.provider.split("::")[-2] in names for r in aws_resources)


def test_real_deploys_leave_credentials_to_the_environment(plain_run: Run) -> None:
    for provider in plain_run.mocks.of_type("pulumi:providers:aws"):
        assert "endpoints" not in provider.inputs and "accessKey" not in provider.inputs


def test_functions_can_call_their_app_siblings_and_nothing_else(gpu_run: Run) -> None:
    """runtime's cloud runner: TOOLKIT_FUNCTION_TARGETS names every callable function's worker (and
    Lambda alias where .remote() invokes it); the role may start exactly those and invoke exactly those."""
    mocks = gpu_run.mocks
    generate = mocks.one(LAMBDA, "model-generate").inputs["environment"]["variables"]
    targets = json.loads(generate["TOOLKIT_FUNCTION_TARGETS"])
    assert set(targets) == {"Model.generate", "batch", "train"}  # "infer" is a web endpoint: called over HTTP
    sm = "arn:aws:states:us-east-1:123456789012:stateMachine:gpu-demo-test-"
    assert targets["train"] == {"lambda_arn": None, "state_machine_arn": sm + "train-worker"}  # ECS: spawn and wait
    assert targets["Model.generate"]["lambda_arn"] == \
        f"arn:aws:lambda:us-east-1:123456789012:function:gpu-demo-test-model-generate:{ALIAS_NAME}"
    policy = parse_json(mocks.one(ROLE_POLICY, "model-generate-identity").inputs["policy"])
    start = next(s for s in policy["Statement"] if s["Action"] == ["states:StartExecution"])
    assert start["Resource"] == sorted(t["state_machine_arn"] for t in targets.values())
    invoke = next(s for s in policy["Statement"] if s["Action"] == ["lambda:InvokeFunction"])
    assert invoke["Resource"] == [targets["Model.generate"]["lambda_arn"]]
    batch_container = parse_json(mocks.one("aws:ecs/taskDefinition:TaskDefinition", "batch").inputs["containerDefinitions"])[0]
    assert {e["name"]: e["value"] for e in batch_container["environment"]}["TOOLKIT_FUNCTION_TARGETS"] == \
        generate["TOOLKIT_FUNCTION_TARGETS"]


def test_proxy_auth_endpoints_get_token_hashes_and_others_do_not() -> None:
    hashes = {"tk-0123": "ab" * 32, "tk-4567": "cd" * 32}
    run = run_program(settings_for(load_fixture("web"), proxy_tokens=hashes))
    env = {r.inputs["name"]: r.inputs["environment"]["variables"] for r in run.mocks.of_type(LAMBDA)}
    assert json.loads(env["web-demo-test-hello"]["TOOLKIT_PROXY_TOKENS"]) == hashes  # requires_proxy_auth=True
    assert "TOOLKIT_PROXY_TOKENS" not in env["web-demo-test-api"]


def test_proxy_tokens_config_key() -> None:
    from infra.config import settings_from

    values = {"manifest": json.dumps(load_fixture("web")), "proxyTokens": '{"tk-1": "' + "ef" * 32 + '"}'}
    assert settings_from(values.get).proxy_tokens == {"tk-1": "ef" * 32}
    assert settings_from({"manifest": values["manifest"]}.get).proxy_tokens == {}

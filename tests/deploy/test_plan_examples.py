"""`toolkit plan` on every example app: the real CLI in a subprocess, the real infra program
under Pulumi's mock runtime, no `pulumi` on PATH and no AWS credentials.  Asserts that each
function kind gets the resources its AWS mapping (DESIGN §5) calls for."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import EXAMPLES, assert_one_line_error, base_env, no_pulumi_path, run_cli

EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.glob("*.py"))

LAMBDA = {"aws:lambda/function:Function", "aws:lambda/alias:Alias", "aws:iam/role:Role"}
WORKER = {"aws:sfn/stateMachine:StateMachine"}
HTTP_API = {"aws:apigatewayv2/api:Api", "aws:apigatewayv2/route:Route", "aws:apigatewayv2/integration:Integration",
            "aws:lambda/permission:Permission"}
ECS_SERVICE = {"aws:ecs/cluster:Cluster", "aws:ecs/taskDefinition:TaskDefinition", "aws:ecs/service:Service",
               "aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup"}
GPU = {"aws:autoscaling/group:Group", "aws:ec2/launchTemplate:LaunchTemplate", "aws:ecs/capacityProvider:CapacityProvider",
       "aws:ecs/taskDefinition:TaskDefinition"}
CUSTOM_DOMAIN = {"aws:cloudfront/distribution:Distribution", "aws:acm/certificate:Certificate",
                 "aws:route53/record:Record"}
ALWAYS = {"aws:ecr/repository:Repository", "aws:dynamodb/table:Table", "aws:s3/bucket:Bucket", "pulumi:providers:aws"}


def expected_types(fn: dict[str, Any]) -> set[str]:
    backend = "gpu" if fn["resources"]["gpu"] else fn["backend"]
    web = fn["web"]
    if backend == "gpu":
        types = GPU | WORKER
    elif backend == "lambda":
        types = LAMBDA | ((HTTP_API | WORKER) if web else WORKER)
    else:
        types = ECS_SERVICE if web else {"aws:ecs/taskDefinition:TaskDefinition"} | WORKER
    if web and web["custom_domains"]:
        types |= CUSTOM_DOMAIN
    if fn["secrets"]:
        types |= {"aws:secretsmanager/secret:Secret"}
    return types


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("plan")
    return base_env(tmp, no_pulumi_path(tmp))  # no CLI, no credentials, no region


Runs = tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]


def manifest_and_plan(example: str, env: dict[str, str]) -> Runs:
    return (run_cli(["manifest", f"examples/{example}"], env),
            run_cli(["plan", f"examples/{example}", "--json"], env))


@pytest.fixture(scope="module")
def example_runs(offline_env: dict[str, str]) -> Iterator[dict[str, Future[Runs]]]:
    """Every example's two CLI runs, started at once and run side by side: each is CPU-bound work
    in a process of its own (mostly importing pulumi), and the suite itself uses one core."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        runs = {example: pool.submit(manifest_and_plan, example, offline_env) for example in EXAMPLE_FILES}
        yield runs
        pool.shutdown(cancel_futures=True)  # a run of a few tests waits for no other example


@pytest.mark.parametrize("example", EXAMPLE_FILES)
def test_plan_every_example_offline(example: str, example_runs: dict[str, Future[Runs]]) -> None:
    manifest_run, result = example_runs[example].result()
    assert manifest_run.returncode == 0, manifest_run.stderr
    manifest = json.loads(manifest_run.stdout)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    types = set(plan["counts"])
    assert types >= ALWAYS
    assert plan["counts"]["toolkit:function:ToolkitFunction"] == len(manifest["functions"])
    assert plan["total"] == len(plan["resources"]) == sum(plan["counts"].values())
    for fn in manifest["functions"]:
        missing = expected_types(fn) - types
        assert not missing, f"{example}::{fn['tag']} ({fn['kind']}, {fn['backend']}) lacks {sorted(missing)}"
    app = manifest["app"]["name"].replace("_", "-")
    assert plan["stack"] == f"toolkit-{app}/main-us-east-1"  # no region configured: named for us-east-1
    names = {r["name"] for r in plan["resources"]}
    assert all(n.startswith(f"{app}-main-us-east-1"[:33]) for n in names), sorted(names)[:5]


def test_plan_table_names_resources_and_env_changes_names(offline_env: dict[str, str]) -> None:
    result = run_cli(["plan", "examples/hello.py", "--env", "staging"], offline_env)
    assert result.returncode == 0, result.stderr
    assert "toolkit-hello/staging-us-east-1" in result.stdout
    assert "aws:lambda/function:Function  hello-staging-us-east-1-square-lambda-function" in result.stdout


def test_plan_of_a_broken_app_is_one_line(offline_env: dict[str, str], tmp_path: Path) -> None:
    app = tmp_path / "bad_gpu.py"
    app.write_text("import toolkit\napp = toolkit.App('bad')\n\n@app.function(gpu='Z9000')\ndef f():\n    pass\n")
    assert_one_line_error(run_cli(["plan", str(app)], offline_env), "Z9000")


def test_plan_json_shows_each_resources_inputs_with_secrets_masked(offline_env: dict[str, str]) -> None:
    """`toolkit plan --json` is reviewable like `terraform plan -json`: every resource with its
    inputs; the proxy-token hashes a requires_proxy_auth endpoint carries are masked."""
    created = run_cli(["token", "create"], offline_env)
    assert created.returncode == 0, created.stderr
    shown = set(re.findall(r"[A-Za-z0-9_-]{16,}", created.stdout))  # the token id and secret, printed once
    result = run_cli(["plan", "examples/auth.py", "--json"], offline_env)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    functions = {r["name"]: r["inputs"] for r in plan["resources"] if r["type"] == "aws:lambda/function:Function"}
    protected = functions["auth-example-main-us-east-1-protected-lambda-function"]
    assert protected["packageType"] == "Image" and protected["memorySize"] > 0 and protected["timeout"] == 300
    assert protected["imageUri"].endswith("@" + "sha256:" + "0" * 64)
    assert protected["role"] == "(known after apply)"  # computed by AWS: not invented
    assert protected["environment"]["variables"]["TOOLKIT_PROXY_TOKENS"] == "[secret]"
    hashes = re.findall(r"\b[0-9a-f]{64}\b", result.stdout)
    assert set(hashes) <= {"0" * 64}, hashes  # no token hash leaks, only the placeholder digest
    assert not [s for s in shown if s in result.stdout]
    assert all("inputs" in r for r in plan["resources"])


def test_pulumi_secret_inputs_are_masked() -> None:
    from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

    from toolkit.deploy.offline import MASKED, plain_inputs

    wire = {"secretString": {_special_sig_key: _special_secret_sig, "value": "hunter2"}, "name": "db",
            "tags": [{"password": "pw"}], "empty_token": ""}
    assert plain_inputs(wire) == {"secretString": MASKED, "name": "db", "tags": [{"password": MASKED}],
                                  "empty_token": ""}

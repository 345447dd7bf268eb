"""Verification after deploy (issue 14, "Also build"): `toolkit deploy` ends by checking each
endpoint's URL and each function's call path, and prints endpoint | URL | status | latency | result.

Real pieces only: a loopback HTTP server stands in for the deployed URLs (answering as the
function, API Gateway, an ALB or CloudFront would), moto server holds the Lambda functions,
state machines and task definitions (its Lambda answers what the test queues: the replies the
real runtime's `error_reply` builds), and the FAKE pulumi supplies the stack outputs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy_helpers import DIGEST_A, FakePulumi, RouteServer, write_images

from runtime.invocation import error_reply
from toolkit.deploy.verify import HEALTH_EVENT, Outcome, check_url, diagnose_response

APP_JSON = (200, {"content-type": "application/json"}, b'{"square": 49}')
APP_405 = (405, {"content-type": "application/json"}, b'{"detail":"Method Not Allowed"}')
APIGW_404 = (404, {"content-type": "application/json", "apigw-requestid": "abc="}, b'{"message":"Not Found"}')
APIGW_500 = (500, {"content-type": "application/json", "apigw-requestid": "abc="}, b'{"message":"Internal Server Error"}')
ALB_404 = (404, {"server": "awselb/2.0", "content-type": "text/plain"}, b"")
ALB_503 = (503, {"server": "awselb/2.0", "content-type": "text/html"}, b"<html><body><center><h1>503 Service "
           b"Temporarily Unavailable</h1></center></body></html>")
CF_403 = (403, {"server": "CloudFront", "x-cache": "Error from cloudfront"}, b"<HTML>ERROR</HTML>")
URL_403 = (403, {"x-amzn-errortype": "AccessDeniedException", "content-type": "application/json"},
           b'{"Message":"Forbidden"}')


@pytest.fixture
def front() -> Iterator[RouteServer]:
    server = RouteServer({"/fn": APP_JSON, "/post-only": APP_405, "/apigw-404": APIGW_404, "/apigw-500": APIGW_500,
                          "/alb-404": ALB_404, "/alb-503": ALB_503, "/cf-403": CF_403,
                          "/url-403": URL_403})
    try:
        yield server
    finally:
        server.close()


def _check(front: RouteServer, path: str, **kwargs: Any) -> Any:
    return check_url("fn", front.url + path, deadline=time.monotonic() + kwargs.pop("within", 0.0), **kwargs)


def test_answers_from_the_app_pass_whatever_their_status(front: RouteServer) -> None:
    for path in ("/fn", "/post-only"):
        check = _check(front, path)
        assert check.outcome is Outcome.OK and check.latency_ms is not None and check.latency_ms >= 0, check
    assert _check(front, "/post-only").status == "405"


@pytest.mark.parametrize(("path", "words"), [
    ("/apigw-404", "API Gateway has no route"),
    ("/apigw-500", "could not get an answer from the Lambda function"),
    ("/alb-404", "no listener rule routes this URL"),
    ("/alb-503", "no healthy target"),
    ("/cf-403", "CloudFront refused the request"),
    ("/url-403", "the Function URL refused the request (AccessDeniedException)"),
])
def test_front_door_answers_fail_with_a_diagnosis(front: RouteServer, path: str, words: str) -> None:
    check = _check(front, path)
    assert check.outcome is Outcome.FAILED and words in check.diagnosis, check


def test_transient_failures_are_retried_until_the_deadline(front: RouteServer) -> None:
    """An ALB whose targets are still starting answers 503, then the app: the check waits for it."""
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        front.routes["/warming"] = APP_JSON  # the task became healthy

    front.routes["/warming"] = ALB_503
    check = _check(front, "/warming", within=30.0, sleep=sleep)
    assert check.outcome is Outcome.OK and len(pauses) == 1
    front.routes["/warming"] = ALB_503
    assert _check(front, "/warming", within=0.0, sleep=sleep).outcome is Outcome.FAILED  # deadline passed: no retry
    assert len(pauses) == 1


def test_connection_refused_is_explained() -> None:
    server = RouteServer({})
    url = server.url
    server.close()  # nothing listens on that port any more
    check = check_url("fn", url, deadline=time.monotonic())
    assert check.outcome is Outcome.FAILED and check.status == "cannot connect"


def test_a_user_500_is_the_functions_not_the_front_doors() -> None:
    why = diagnose_response(500, {"content-type": "text/plain"}, b"Internal Server Error")
    assert why is not None and "the function answered 500" in why and "toolkit logs" in why


# -- the whole deploy, through the CLI -------------------------------------------------------------------


def _aws(endpoint: str, service: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name="eu-west-1",
                        aws_access_key_id="AKIAFAKEFAKEFAKE", aws_secret_access_key="fake-secret")


def _lambda_replies(endpoint: str, *replies: dict[str, Any]) -> None:
    """What moto's Lambda answers next, in order: the replies the real runtime builds."""
    httpx.post(f"{endpoint}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=10).raise_for_status()
    httpx.post(f"{endpoint}/moto-api/static/lambda-simple/response", timeout=10,
               json={"results": [json.dumps(r) for r in replies], "region": "eu-west-1",
                     "account_id": "123456789012"}).raise_for_status()


def _lambda_function(endpoint: str, name: str) -> str:
    role = _aws(endpoint, "iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    created = _aws(endpoint, "lambda").create_function(
        FunctionName=name, Role=role, PackageType="Image",
        Code={"ImageUri": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/toolkit/hello@{DIGEST_A}"})
    return str(created["FunctionArn"])


def _deploy(fake: FakePulumi, tmp_path: Path, moto: str, *extra: str) -> Any:
    fake.env.update(AWS_ENDPOINT_URL=moto)
    images = write_images(tmp_path / "images.json", {"square": DIGEST_A, "countdown": DIGEST_A})
    return fake.run("deploy", "examples/hello.py", "--images", str(images), "--verify-timeout", "1", *extra)


def test_deploy_verifies_endpoints_and_call_paths(fake_pulumi: FakePulumi, tmp_path: Path, moto_endpoint: str,
                                                  front: RouteServer) -> None:
    square, countdown = _lambda_function(moto_endpoint, "hello-square"), _lambda_function(moto_endpoint, "hello-cd")
    fake_pulumi.scenario(outputs={"app": "hello", "endpoints": {"square": front.url + "/fn"},
                                  "functions": {"square": {"backend": "lambda", "function_arn": square,
                                                           "stream_url": front.url + "/post-only"},
                                                "countdown": {"backend": "lambda", "function_arn": countdown}}})
    initialised = error_reply(400, "unknown event with keys ['toolkit_health']", web=True)  # the runtime's answer
    _lambda_replies(moto_endpoint, initialised, initialised)
    result = _deploy(fake_pulumi, tmp_path, moto_endpoint)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"square: {front.url}/fn"  # stdout stays the URLs
    table = result.stderr[result.stderr.index("Verification"):]
    assert f"{front.url}/fn" in table and "200" in table and " ms" in table
    assert f"{front.url}/post-only" in table and "405" in table  # the streaming Function URL, answered by the app
    assert table.count("initialised") == 2 and "square (call)" in table and "countdown (call)" in table

    fake_pulumi.reset_calls()
    _lambda_replies(moto_endpoint, initialised, initialised)
    as_json = _deploy(fake_pulumi, tmp_path, moto_endpoint, "--json")
    rows = {r["name"]: r for r in json.loads(as_json.stdout)["verification"]}
    assert rows["square"]["outcome"] == "ok" and rows["square"]["status"] == "200"
    assert rows["square (stream)"]["outcome"] == "ok" and rows["square (stream)"]["status"] == "405"
    assert rows["square (call)"]["outcome"] == "ok" and rows["square (call)"]["target"] == square


def test_deploy_fails_and_explains_what_does_not_answer(fake_pulumi: FakePulumi, tmp_path: Path, moto_endpoint: str,
                                                        front: RouteServer) -> None:
    square = _lambda_function(moto_endpoint, "hello-square")
    fake_pulumi.scenario(outputs={"app": "hello", "endpoints": {"square": front.url + "/alb-404"},
                                  "functions": {"square": {"backend": "lambda", "function_arn": square}}})
    _lambda_replies(moto_endpoint, error_reply(500, "The function could not start: ModuleNotFoundError: No module "
                                                    "named 'numpy'", web=True))
    result = _deploy(fake_pulumi, tmp_path, moto_endpoint)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stdout.splitlines()[0] == f"square: {front.url}/alb-404"  # the URLs are still printed
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: Deployed toolkit-hello/main-eu-west-1, but 2 of 2 checks failed")
    assert "no listener rule routes this URL" in error
    table = " ".join(result.stderr[result.stderr.index("Verification"):].split())
    assert "No module named" in table and "numpy" in table


def test_health_invocation_is_the_event_the_runtime_does_not_run_user_code_for() -> None:
    """The health event must be classified UNKNOWN by the runtime: it initialises, runs no user code."""
    from runtime.events.sources import EventSource, classify

    assert classify(dict(HEALTH_EVENT)) is EventSource.UNKNOWN


def test_ecs_functions_are_checked_but_not_invoked(moto_endpoint: str) -> None:
    from toolkit.deploy.verify import check_call_path

    ecs = _aws(moto_endpoint, "ecs")
    task = ecs.register_task_definition(family="hello-job", containerDefinitions=[
        {"name": "worker", "image": f"x@{DIGEST_A}", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    role = _aws(moto_endpoint, "iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = _aws(moto_endpoint, "stepfunctions").create_state_machine(
        name="hello-job-worker", roleArn=role,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]

    def clients(service: str) -> Any:
        return _aws(moto_endpoint, service)

    check = check_call_path("job", {"backend": "gpu", "task_definition_arn": task, "state_machine_arn": machine},
                            clients)
    assert check.outcome is Outcome.NOT_INVOKED and "GPU instance" in check.diagnosis
    ecs.deregister_task_definition(taskDefinition=task)
    gone = check_call_path("job", {"backend": "ecs", "task_definition_arn": task}, clients)
    assert gone.outcome is Outcome.FAILED and "not active" in gone.diagnosis

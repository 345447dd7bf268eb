"""`runtime.lambda_handler.handler` in-process: web kinds, direct calls, worker tasks, errors.

Tests that touch AWS use the moto server fixture (``aws``); the handler's boto3 clients
find it through AWS_ENDPOINT_URL like they would find LocalStack.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from deployed_app import function, write_app
from loopback import free_port
from runtime_support import FIXTURES
from state_machines import pass_state_machine
from web_server_lambda import stop_listener

from runtime import lambda_handler
from runtime.awsclients import client
from runtime.callstore import CallStatus, new_call_id
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.gateway import RESULT_QUERY_PARAM, hash_secret
from runtime.invocation import call_event, encode_args
from runtime.serialization import RemoteError, deserialize, serialize

Deploy = Callable[..., None]


@pytest.fixture
def deploy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deploy]:
    def _deploy(functions: list[dict[str, Any]], tag: str) -> None:
        lambda_handler.shutdown()
        monkeypatch.setenv("TOOLKIT_MANIFEST", str(write_app(tmp_path, functions)))
        monkeypatch.setenv("TOOLKIT_FUNCTION", tag)
        monkeypatch.setenv("TOOLKIT_APP_ROOT", str(tmp_path))

    yield _deploy
    lambda_handler.shutdown()


def v2_event(path: str = "/", query: str = "", method: str = "GET", body: bytes | None = None,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
    event = json.loads((FIXTURES / "aws-events" / "apigw-v2-http-api.json").read_text())
    event.update(rawPath=path, rawQueryString=query, headers=headers or {}, cookies=[])
    event["requestContext"]["http"].update(method=method, path=path)
    event["body"] = base64.b64encode(body).decode() if body is not None else None
    event["isBase64Encoded"] = body is not None
    return event


def user_module() -> Any:
    return sys.modules["user_app"]


# -- web kinds -----------------------------------------------------------------------------------

def test_fastapi_endpoint_typed_query_and_422(deploy: Deploy) -> None:
    deploy([function("square", "fastapi_endpoint")], "square")
    ok = lambda_handler.handler(v2_event(query="x=7"), None)
    assert ok["statusCode"] == 200 and json.loads(ok["body"]) == {"square": 49}
    bad = lambda_handler.handler(v2_event(query="x=seven"), None)
    assert bad["statusCode"] == 422
    assert lambda_handler.handler(v2_event(path="/docs"), None)["statusCode"] == 404  # docs off by default


def test_fastapi_endpoint_docs_and_declared_method(deploy: Deploy) -> None:
    deploy([function("square", "fastapi_endpoint", web={"docs": True, "method": "POST"})], "square")
    assert lambda_handler.handler(v2_event(path="/docs"), None)["statusCode"] == 200
    spec = json.loads(lambda_handler.handler(v2_event(path="/openapi.json"), None)["body"])
    assert "post" in spec["paths"]["/"]
    assert lambda_handler.handler(v2_event(query="x=2"), None)["statusCode"] == 405
    assert lambda_handler.handler(v2_event(query="x=2", method="POST"), None)["statusCode"] == 200


def test_asgi_lifespan_runs_once_per_environment(deploy: Deploy) -> None:
    deploy([function("asgi", "asgi_app")], "asgi")
    bodies = [json.loads(lambda_handler.handler(v2_event(path="/state"), None)["body"]) for _ in range(3)]
    assert bodies == [{"model": "loaded-1", "starts": 1}] * 3


def test_wsgi_app(deploy: Deploy) -> None:
    deploy([function("wsgi", "wsgi_app")], "wsgi")
    response = lambda_handler.handler(v2_event(path="/hello"), None)
    assert response["statusCode"] == 200 and response["body"] == "wsgi /hello"


def test_web_server_started_once_and_proxied(deploy: Deploy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_PORT", str(port := free_port()))
    deploy([function("server", "web_server", web={"port": port, "startup_timeout": 10})], "server")
    try:
        for _ in range(2):
            response = lambda_handler.handler(v2_event(path="/p/a b", query="q=1", method="POST", body=b"abc"), None)
            echo = json.loads(response["body"])
            assert echo == {"method": "POST", "path": "/p/a%20b?q=1", "xff": "192.168.0.1", "len": 3}
    finally:
        stop_listener(port)


# -- direct calls --------------------------------------------------------------------------------

def test_inline_call_ok_and_error(deploy: Deploy) -> None:
    deploy([function("add"), function("boom")], "add")
    reply = lambda_handler.handler(call_event("add", payload=encode_args((2,), {"b": 3})), None)
    assert reply["toolkit_result"] == "ok" and deserialize(base64.b64decode(reply["result_b64"])) == 5
    deploy([function("add"), function("boom")], "boom")
    reply = lambda_handler.handler(call_event("boom", payload=encode_args((), {})), None)
    error = deserialize(base64.b64decode(reply["error_b64"]))
    assert reply["toolkit_result"] == "error" and isinstance(error, RemoteError)
    assert isinstance(error.exception, ValueError) and "no good" in error.traceback


def test_oversize_inline_result_is_refused_with_the_remedy(deploy: Deploy) -> None:
    deploy([function("big")], "big")
    reply = lambda_handler.handler(call_event("big", payload=encode_args((5_000_000,), {})), None)
    assert reply["statusCode"] == 413 and "TOOLKIT_PAYLOAD_BUCKET" in reply["message"]


def test_worker_task_runs_exactly_once(deploy: Deploy, aws: Any) -> None:
    deploy([function("add")], "add")
    store, call_id = DynamoDBCallStore.from_env(), new_call_id()
    store.create(call_id, "demo", "add", encode_args((40, 2), {}))
    task = {"toolkit_event": "worker_task", "call_id": call_id, "function": "add"}
    assert lambda_handler.handler(task, None) == {"call_id": call_id, "status": "done"}
    assert lambda_handler.handler(task, None) == {"call_id": call_id, "status": "done"}  # a retry
    assert user_module().RUNS == [(40, 2)]
    record = store.get(call_id)
    assert record is not None and record.status is CallStatus.DONE and deserialize(record.result or b"") == 42


def test_stored_call_with_claim_checked_input(deploy: Deploy, aws: Any) -> None:
    deploy([function("add")], "add")
    store, call_id = DynamoDBCallStore.from_env(), new_call_id()
    store.create(call_id, "demo", "add", encode_args(("a" * 300_000, "b"), {}))  # input goes via S3
    reply = lambda_handler.handler(call_event("add", call_id=call_id), None)
    assert reply == {"toolkit_result": "stored", "call_id": call_id, "status": "done"}
    assert deserialize(store.get(call_id).result) == "a" * 300_000 + "b"  # type: ignore[union-attr,arg-type]


# -- the 303 budget on Lambda ------------------------------------------------------------------------

def test_over_budget_request_redirects_and_result_url_returns_it(
    deploy: Deploy, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = pass_state_machine("sm")
    monkeypatch.setenv("TOOLKIT_STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("TOOLKIT_REQUEST_BUDGET_S", "0.3")
    deploy([function("square", "fastapi_endpoint", timeout=600)], "square")
    first = lambda_handler.handler(v2_event(path="/", query="x=9"), None)
    assert first["statusCode"] == 303
    location = urlsplit(first["headers"]["location"])
    call_id = parse_qs(location.query)[RESULT_QUERY_PARAM][0]
    assert location.path == "/" and parse_qs(location.query)["x"] == ["9"]
    execution = client("stepfunctions").describe_execution(executionArn=f"{arn.replace(':stateMachine:', ':execution:')}:{call_id}")
    assert json.loads(execution["input"]) == {"call_id": call_id, "function": "square"}
    again = lambda_handler.handler(v2_event(query=location.query), None)  # still running: 303 again
    assert again["statusCode"] == 303 and user_module().RUNS == []
    assert lambda_handler.handler({"toolkit_event": "worker_task", "call_id": call_id, "function": "square"}, None)
    done = lambda_handler.handler(v2_event(query=location.query), None)
    assert done["statusCode"] == 200 and json.loads(done["body"]) == {"square": 81}
    assert lambda_handler.handler(v2_event(query=location.query), None)["body"] == done["body"]
    assert user_module().RUNS == [9]  # once, however often the result URL is fetched


def test_endpoint_within_budget_runs_inline_without_step_functions(
    deploy: Deploy, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLKIT_STATE_MACHINE_ARN", arn := pass_state_machine("sm"))
    deploy([function("square", "fastapi_endpoint", timeout=20)], "square")
    assert json.loads(lambda_handler.handler(v2_event(query="x=3"), None)["body"]) == {"square": 9}
    assert client("stepfunctions").list_executions(stateMachineArn=arn)["executions"] == []


# -- refusals and errors -----------------------------------------------------------------------------

def test_proxy_auth(deploy: Deploy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_PROXY_TOKENS", json.dumps({"tk-1": hash_secret("s3cret")}))
    deploy([function("square", "fastapi_endpoint", web={"requires_proxy_auth": True})], "square")
    assert lambda_handler.handler(v2_event(query="x=2"), None)["statusCode"] == 401
    wrong = {"toolkit-key": "tk-1", "toolkit-secret": "nope"}
    assert lambda_handler.handler(v2_event(query="x=2", headers=wrong), None)["statusCode"] == 401
    right = {"Toolkit-Key": "tk-1", "Toolkit-Secret": "s3cret"}
    assert lambda_handler.handler(v2_event(query="x=2", headers=right), None)["statusCode"] == 200


def test_oversize_body_gets_413_naming_limit_and_remedy(deploy: Deploy) -> None:
    deploy([function("square", "fastapi_endpoint", web={"method": "POST"})], "square")
    response = lambda_handler.handler(v2_event(method="POST", query="x=1", body=b"x" * 4_600_000), None)
    assert response["statusCode"] == 413
    assert "4500000 byte limit" in response["body"] and 'backend="ecs"' in response["body"]


@pytest.mark.parametrize("event", [
    {"hello": "world"}, [], "text", {"requestContext": {}}, {"toolkit_event": "nonsense"},
    {"version": "2.0", "requestContext": {"http": {}}},
])
def test_unknown_events_get_a_clear_400(deploy: Deploy, event: Any) -> None:
    deploy([function("square", "fastapi_endpoint")], "square")
    response = lambda_handler.handler(event, None)
    assert response["statusCode"] == 400 and "Unrecognised event" in response["body"]
    assert set(response) == {"statusCode", "headers", "body"}  # REST APIs 502 on unknown keys


def test_malformed_events_get_400_and_the_environment_survives(deploy: Deploy) -> None:
    deploy([function("square", "fastapi_endpoint")], "square")
    broken_web = {"version": "2.0", "requestContext": {"http": {"method": "GET"}}}
    assert lambda_handler.handler(broken_web, None)["statusCode"] == 400
    assert lambda_handler.handler({"toolkit_event": "call", "function": "square"}, None)["statusCode"] == 400
    assert lambda_handler.handler({"toolkit_event": "worker_task", "call_id": "x"}, None)["statusCode"] == 400
    assert lambda_handler.handler(v2_event(query="x=2"), None)["statusCode"] == 200


def test_plain_function_refuses_web_events_and_wrong_tags(deploy: Deploy) -> None:
    deploy([function("add")], "add")
    assert "not a web endpoint" in lambda_handler.handler(v2_event(), None)["body"]
    reply = lambda_handler.handler(call_event("other", payload=encode_args((), {})), None)
    assert reply["statusCode"] == 400 and "serves 'add', not 'other'" in reply["message"]


def test_broken_deployment_reports_why(deploy: Deploy, monkeypatch: pytest.MonkeyPatch) -> None:
    deploy([function("add")], "missing")
    response = lambda_handler.handler(v2_event(), None)
    assert response["statusCode"] == 500 and "'missing' is not in the manifest" in response["body"]


# -- secrets ---------------------------------------------------------------------------------------

def test_secrets_loaded_at_init_and_never_logged(
    deploy: Deploy, aws: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    arn = client("secretsmanager").create_secret(
        Name=f"web-auth-{new_call_id()}", SecretString=json.dumps({"AUTH_TOKEN": "tok-VALUE-123"}))["ARN"]
    monkeypatch.setenv("TOOLKIT_SECRET_ARNS", json.dumps([arn]))
    monkeypatch.delenv("AUTH_TOKEN", raising=False)
    deploy([function("env_value")], "env_value")
    caplog.set_level("DEBUG")
    reply = lambda_handler.handler(call_event("env_value", payload=encode_args(("AUTH_TOKEN",), {})), None)
    assert deserialize(base64.b64decode(reply["result_b64"])) == "tok-VALUE-123"
    assert "AUTH_TOKEN" in caplog.text and "tok-VALUE-123" not in caplog.text
    monkeypatch.delenv("AUTH_TOKEN")  # loaded into os.environ by the runtime; don't leak to other tests


def test_serialized_error_results_are_recorded_as_failed(deploy: Deploy, aws: Any) -> None:
    deploy([function("boom")], "boom")
    store, call_id = DynamoDBCallStore.from_env(), new_call_id()
    store.create(call_id, "demo", "boom", serialize(((), {})))
    assert lambda_handler.handler({"toolkit_event": "worker_task", "call_id": call_id, "function": "boom"}, None) \
        == {"call_id": call_id, "status": "failed"}
    error = deserialize(store.get(call_id).result)  # type: ignore[union-attr,arg-type]
    assert isinstance(error, RemoteError) and error.message == "no good"

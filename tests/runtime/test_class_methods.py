"""Methods of ``@app.cls`` classes in the runtime: Lambda web events, direct and stored calls,
Step Functions worker tasks, and the ECS/GPU HTTP entrypoint (web_server instances taking turns).

The app is a real toolkit app (tests/runtime/cls_runtime_app.py) and its manifest is the one
``toolkit.manifest`` builds; each test deploys one ``Cls.method`` tag, as infra does.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cls_runtime_app import MODULE, user_module, write_cls_app
from loopback import free_port
from pids import alive
from runtime_support import FIXTURES, serve_uvicorn
from state_machines import pass_state_machine
from websockets.sync.client import connect as ws_connect

from runtime import lambda_handler
from runtime.awsclients import client
from runtime.callstore import CallStatus
from runtime.callstore.dynamodb import DynamoDBCallStore
from runtime.cloud_client import CloudTransport, FunctionTarget
from runtime.deployment import load_deployment
from runtime.invocation import call_event, encode_args
from runtime.serialization import RemoteError, deserialize
from runtime.server import build_server_app

Deploy = Callable[[str], None]


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("FILES_PORT", str(free_port()))
    monkeypatch.setenv("TOOLKIT_APP_ROOT", str(tmp_path))
    path = write_cls_app(tmp_path)
    monkeypatch.setenv("TOOLKIT_MANIFEST", str(path))
    yield path
    sys.modules.pop(MODULE, None)


@pytest.fixture
def deploy(manifest: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deploy]:
    """``deploy(tag)``: this process becomes the Lambda environment of ``tag``."""

    def _deploy(tag: str) -> None:
        lambda_handler.shutdown()
        monkeypatch.setenv("TOOLKIT_FUNCTION", tag)

    yield _deploy
    lambda_handler.shutdown()


def v2_event(path: str = "/", query: str = "", headers: dict[str, str] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / "aws-events" / "apigw-v2-http-api.json").read_text())
    event.update(rawPath=path, rawQueryString=query, headers=headers or {}, cookies=[], body=None,
                 isBase64Encoded=False)
    event["requestContext"]["http"].update(method="GET", path=path)
    return event


def get(path: str = "/", query: str = "") -> tuple[int, Any]:
    reply = lambda_handler.handler(v2_event(path, query), None)
    body = reply["body"]
    try:
        return reply["statusCode"], json.loads(body)
    except ValueError:
        return reply["statusCode"], body


def events(kind: str) -> list[tuple[Any, ...]]:
    return [e for e in user_module().EVENTS if e[0] == kind]


# -- the manifest infra deploys -----------------------------------------------------------------

def test_manifest_has_one_function_per_method(manifest: Path) -> None:
    functions = {f["tag"]: f for f in json.loads(manifest.read_text())["functions"]}
    assert sorted(functions) == ["Files.serve", "Model.api", "Model.echo", "Model.predict", "Model.web",
                                 "Strict.double", "Strict.get"]
    assert functions["Model.web"]["cls"]["parameters"] == [{"name": "size", "type": "int", "default": 1},
                                                           {"name": "name", "type": "str", "default": "m"}]
    assert functions["Files.serve"]["backend"] == "ecs"


# -- web methods on Lambda ----------------------------------------------------------------------

def test_query_selects_the_instance_and_enter_runs_once_per_parameter_set(deploy: Deploy) -> None:
    deploy("Model.web")
    assert get(query="size=3&x=2") == (200, {"size": 3, "name": "m", "x": 2, "weights": 30})
    assert get(query="x=5") == (200, {"size": 1, "name": "m", "x": 5, "weights": 10})  # defaults
    assert get(query="size=3&name=big&x=1")[1]["name"] == "big"
    for _ in range(3):
        assert get(query="size=3")[0] == 200
    assert sorted(events("enter")) == [("enter", 1, "m"), ("enter", 3, "big"), ("enter", 3, "m")]


def test_bad_parameter_values_are_400_naming_the_value(deploy: Deploy) -> None:
    deploy("Model.web")
    assert get(query="size=three") == (400, "Query parameter size='three' is not a valid int.")
    deploy("Strict.get")
    assert get() == (400, "Strict needs a value for parameter 'n' (it has no default).")
    assert get(query="n=4") == (200, {"n": 4})


def test_a_failing_enter_is_a_500_and_the_next_request_retries(deploy: Deploy) -> None:
    deploy("Strict.get")
    status, body = get(query="n=-1")
    assert status == 500 and body == "Strict(n=-1) could not start: ValueError: n must be >= 0, got -1"
    assert get(query="n=-1")[0] == 500  # not cached: built (and failed) again
    assert get(query="n=0") == (200, {"n": 0})


def test_asgi_method_gets_a_lifespan_per_instance(deploy: Deploy) -> None:
    deploy("Model.api")
    assert get("/state", "size=2") == (200, {"loaded": "model-2", "size": 2})
    assert get("/state", "size=5") == (200, {"loaded": "model-5", "size": 5})
    assert get("/state", "size=2") == (200, {"loaded": "model-2", "size": 2})
    assert events("lifespan") == [("lifespan", 2, "m"), ("lifespan", 5, "m")]


def test_instances_are_lru_bounded_and_evicted_ones_run_exit(deploy: Deploy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_MAX_INSTANCES", "2")
    deploy("Model.web")
    for size in (1, 2, 1, 3):  # 2 is the least recently used when 3 arrives
        assert get(query=f"size={size}")[1]["size"] == size
    assert events("exit") == [("exit", 2, "m")]
    assert get(query="size=2")[0] == 200  # built again: 1 goes now
    assert events("exit") == [("exit", 2, "m"), ("exit", 1, "m")]
    assert [e[1] for e in events("enter")] == [1, 2, 3, 2]
    lambda_handler.shutdown()  # the environment stopping: the rest run their @exit hooks too
    assert sorted(e[1] for e in events("exit")) == [1, 2, 2, 3]


def test_websocket_upgrade_on_lambda_is_refused_with_the_fix(deploy: Deploy) -> None:
    deploy("Model.api")
    reply = lambda_handler.handler(v2_event("/ws", headers={"upgrade": "websocket", "connection": "Upgrade"}), None)
    assert reply["statusCode"] == 400
    assert "WebSockets are not available on the lambda backend" in reply["body"] and 'backend="ecs"' in reply["body"]


# -- calls --------------------------------------------------------------------------------------

def call(tag: str, args: tuple[Any, ...], kwargs: dict[str, Any], params: tuple[tuple[str, Any], ...]) -> Any:
    reply = lambda_handler.handler(call_event(tag, payload=encode_args(args, kwargs, params)), None)
    data = deserialize(base64.b64decode(reply.get("result_b64") or reply["error_b64"]))
    return reply["toolkit_result"], data


def test_inline_call_builds_the_instance_from_the_payloads_parameters(deploy: Deploy) -> None:
    deploy("Model.predict")
    assert call("Model.predict", (2,), {"scale": 3}, (("size", 5),)) == ("ok", {"size": 5, "name": "m", "y": 300})
    assert call("Model.predict", (1,), {}, ()) == ("ok", {"size": 1, "name": "m", "y": 10})  # defaults
    assert call("Model.predict", (1,), {}, (("size", 5),))[0] == "ok"
    assert [e[1] for e in events("enter")] == [5, 1]


def test_call_with_bad_parameter_values_fails_with_the_sdk_error(deploy: Deploy) -> None:
    from toolkit.exception import InvalidError

    deploy("Model.predict")
    outcome, error = call("Model.predict", (1,), {}, (("size", "x"),))
    assert outcome == "error" and isinstance(error, RemoteError) and isinstance(error.exception, InvalidError)
    assert str(error.exception) == "Model.size is a int; got 'x'."
    outcome, error = call("Model.predict", (1,), {}, (("colour", "red"),))
    assert "Model has no parameter 'colour'" in str(error.exception)


def invoke_in_process(arn: str, event: dict[str, Any]) -> dict[str, Any]:
    """A synchronous Lambda invoke of this environment: JSON in, JSON out, as Lambda delivers it."""
    reply: dict[str, Any] = json.loads(json.dumps(lambda_handler.handler(json.loads(json.dumps(event)), None)))
    return reply


@pytest.fixture
def cloud(recorded_executions: Any, deploy: Deploy) -> Iterator[Any]:
    """The SDK's CloudRunner over a transport whose Lambda invoke runs this process's handler."""
    from toolkit.runner import CloudRunner

    deploy("Model.predict")
    lambda_handler.init()  # imports the app: the test builds its Model(...) handles from that copy
    targets = {"Model.predict": FunctionTarget("Model.predict", "arn:aws:lambda:us-east-1:1:function:p",
                                               pass_state_machine("classy-worker"))}
    yield CloudRunner(CloudTransport("classy", DynamoDBCallStore.from_env(), targets, invoke_in_process))


def sdk_model(**params: Any) -> Any:
    return user_module().Model(**params)


def test_remote_spawn_and_map_carry_the_bound_parameters(cloud: Any) -> None:
    predict = sdk_model(size=4, name="four").predict  # a Function bound to Model(size=4, name="four")
    assert cloud.call(predict, (2,), {}) == {"size": 4, "name": "four", "y": 80}
    call_id = cloud.spawn(sdk_model(size=6).predict, (1,), {"scale": 2})  # runners return the id
    record = cloud.transport.store.get(call_id)
    assert record is not None and record.function == "Model.predict" and record.status is CallStatus.PENDING
    # what the worker state machine does: a worker task for the call, in the method's environment
    reply = lambda_handler.handler({"toolkit_event": "worker_task", "call_id": call_id,
                                    "function": "Model.predict"}, None)
    assert reply == {"call_id": call_id, "status": "done"}
    assert cloud.get(call_id, 0) == {"size": 6, "name": "m", "y": 120}
    mapped = cloud.map(sdk_model(size=2).predict, [(1,), (2,)], {}, True, False)
    spawned = [i["call_id"]["S"] for i in client("dynamodb").scan(TableName=cloud.transport.store.table)["Items"]
               if i["status"]["S"] == "pending"]
    for call_id in spawned:
        lambda_handler.handler({"toolkit_event": "worker_task", "call_id": call_id, "function": "Model.predict"}, None)
    assert [r["y"] for r in mapped] == [20, 40]
    assert sorted(e[1:] for e in events("enter")) == [(2, "m"), (4, "four"), (6, "m")]


def test_parameter_values_in_log_lines_and_errors_are_cut_short() -> None:
    """`describe` feeds log lines and 500 bodies: a megabyte bytes parameter must not go into them whole."""
    from runtime.instances import describe

    text = describe((("n", 3), ("blob", b"x" * 1_000_000), ("name", "m")))
    assert text.startswith("n=3, blob=b'xxx") and text.endswith(", name='m'") and len(text) < 100


# -- the ECS/GPU HTTP entrypoint ----------------------------------------------------------------

@pytest.fixture
def http_entrypoint(manifest: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Iterator[str]]:
    def start(tag: str) -> Iterator[str]:
        monkeypatch.setenv("TOOLKIT_FUNCTION", tag)
        yield from serve_uvicorn(build_server_app(load_deployment()))

    return start


def test_http_entrypoint_web_method_and_websocket(http_entrypoint: Callable[[str], Iterator[str]]) -> None:
    served = http_entrypoint("Model.api")
    address = next(served)
    try:
        with httpx.Client(base_url=f"http://{address}") as http:
            assert http.get("/state", params={"size": 7}).json() == {"loaded": "model-7", "size": 7}
            assert http.get("/state", params={"size": "x"}).status_code == 400
        with ws_connect(f"ws://{address}/ws?size=9") as socket:
            assert socket.recv(timeout=10) == "size=9"
    finally:
        next(served, None)
    assert events("lifespan") == [("lifespan", 7, "m"), ("lifespan", 9, "m")]


def test_web_server_instances_take_turns_on_the_port(http_entrypoint: Callable[[str], Iterator[str]]) -> None:
    served = http_entrypoint("Files.serve")
    address = next(served)
    port = int(os.environ["FILES_PORT"])
    try:
        with httpx.Client(base_url=f"http://{address}", timeout=30) as http:
            first = http.get("/x", params={"root": "one"}).json()
            assert (first["root"], first["path"]) == ("one", "/x?root=one")
            again = http.get("/", params={"root": "one"}).json()
            assert again["pid"] == first["pid"]  # the same instance's server
            second = http.get("/", params={"root": "two"}).json()
            assert second["root"] == "two" and second["pid"] != first["pid"]
            assert not alive(first["pid"])  # the first instance's server was stopped for it
            assert http.get("/").json()["root"] == "a"  # the default parameter value
    finally:
        next(served, None)  # server shutdown stops the instance holding the port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_detached_requests_replay_on_the_serving_loop_with_lifespan_state(
    aws: Any, http_entrypoint: Callable[[str], Iterator[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a call store, a request whose function may outlive the budget runs detached on a thread
    (`ThreadCalls`); its replay must meet the same instance and lifespan state as a live one."""
    monkeypatch.setenv("TOOLKIT_REQUEST_BUDGET_S", "20")  # timeout 300 s > budget: every request detaches
    served = http_entrypoint("Model.api")
    address = next(served)
    try:
        with httpx.Client(base_url=f"http://{address}", timeout=30) as http:
            for _ in range(2):
                assert http.get("/state", params={"size": 3}).json() == {"loaded": "model-3", "size": 3}
    finally:
        next(served, None)
    items = client("dynamodb").scan(TableName=aws.table)["Items"]
    assert sorted((i["function"]["S"], i["status"]["S"]) for i in items) == [("Model.api", "done")] * 2
    assert events("lifespan") == [("lifespan", 3, "m")]  # one instance served both


def test_detached_request_of_a_plain_asgi_app_sees_its_lifespan_state(
    aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deployed_app import function, write_app

    monkeypatch.setenv("TOOLKIT_REQUEST_BUDGET_S", "20")
    monkeypatch.setenv("TOOLKIT_APP_ROOT", str(tmp_path))
    deployment = load_deployment(str(write_app(tmp_path, [function("asgi", "asgi_app")])), "asgi")
    served = serve_uvicorn(build_server_app(deployment))
    address = next(served)
    try:
        response = httpx.get(f"http://{address}/state", timeout=30)
    finally:
        next(served, None)
        sys.modules.pop("user_app", None)
    assert response.status_code == 200 and response.json() == {"model": "loaded-1", "starts": 1}
    (item,) = client("dynamodb").scan(TableName=aws.table)["Items"]
    assert item["status"]["S"] == "done"  # it did run detached

"""Lookups of a deployed app from another process (issue 16 item 2): ``Function.from_name``,
``Cls.from_name`` and ``App.lookup`` read the call map deploy left in SSM, then call the app through
its call table and Step Functions workers, on moto.

The client is a second, real Python process with only AWS credentials, a region and moto's endpoint:
no source file, no Pulumi, no TOOLKIT_* container variables.  moto records Step Functions executions
without running them (Lambda code does not run on moto), so this test plays each worker: the real
runtime handler serving a worker task for the call, with the deployed function's environment, as the
state machine's task would, and Lambda's Invoke API is a loopback endpoint (`LambdaInvokeEndpoint`,
reached through ``AWS_ENDPOINT_URL_LAMBDA``) answering with the real runtime handler.  What stays
unverified: the state machine's Lambda/ECS task itself starting the worker on AWS (tests/infra covers
its definition, tests/runtime/test_stepfunctions its ASL), and AWS's own Invoke service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime import lambda_handler
from runtime.awsclients import client
from runtime.callmap import CallMap, MappedFunction, parameter_name
from toolkit.deploy.names import stack_name

pytestmark = pytest.mark.timeout(180)

DEMO_APP = '''
import toolkit

app = toolkit.App("lookup-demo")

@app.function()
def child(x):
    return {"doubled": x * 2, "call": toolkit.current_function_call_id()}

@app.cls()
class Model:
    size: int = toolkit.parameter(default=1)

    @toolkit.method()
    def predict(self, x):
        return x * self.size

@app.function()
@toolkit.fastapi_endpoint()
def hello():
    return "hi"
'''

CLIENT = '''
import json, sys, toolkit
child = toolkit.Function.from_name("lookup-demo", "child")
call = child.spawn(21)
print(json.dumps({"spawned": call.object_id}), flush=True)
out = {"get": call.get(timeout=60)["doubled"], "remote": child.remote(5)["doubled"],
       "map": [r["doubled"] for r in child.map([1, 2, 3])]}
async def aio():
    return (await child.remote.aio(6))["doubled"], [r["doubled"] async for r in child.map.aio([7, 8])]
import asyncio
out["aio"] = asyncio.run(aio())
Model = toolkit.Cls.from_name("lookup-demo", "Model")
out["model"] = Model(size=3).predict.remote(4)
out["url"] = toolkit.Function.from_name("lookup-demo", "hello").get_web_url()
try:
    child.local(1)
except toolkit.exception.InvalidError as exc:
    out["local"] = str(exc)
print(json.dumps(out), flush=True)
'''

REPO = Path(__file__).resolve().parents[2]
SOURCE = {"kind": "file", "path": "demo_app.py", "module": "demo_app", "app_variable": "app"}
DEPLOYED_URL = "https://default--lookup-demo-hello.example.com"


def _client_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A user's shell: AWS settings only (the fixture's, pointing at moto), no container variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    return {**env, "TOOLKIT_HOME": str(tmp_path / "home"), "AWS_REGION": "us-east-1", "PYTHONPATH": str(REPO),
            **extra}


def _machine(tag: str) -> str:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    return str(client("stepfunctions").create_state_machine(
        name=f"lookup-demo-{tag.replace('.', '-').lower()}-worker-{uuid.uuid4().hex[:6]}",
        definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/toolkit-sfn")["stateMachineArn"])


def _deploy(root: Path, source: str, app: str, functions: dict[str, MappedFunction],
            classes: dict[str, tuple[tuple[str, str, Any], ...]], aws: Any, monkeypatch: pytest.MonkeyPatch) -> CallMap:
    """``source`` 'deployed' on moto: its call map in SSM where deploy writes it, its call table and workers."""
    root.mkdir()
    (root / "demo_app.py").write_text(source)
    manifest = subprocess.run(
        [sys.executable, "-c", "import json, demo_app; from toolkit.manifest import build_manifest; "
                               f"print(json.dumps(build_manifest(demo_app.app, source={SOURCE!r})))"],
        cwd=root, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60)
    assert manifest.returncode == 0, manifest.stderr
    (root / "manifest.json").write_text(manifest.stdout)
    monkeypatch.setenv("TOOLKIT_MANIFEST", str(root / "manifest.json"))  # for the workers this test plays
    monkeypatch.setenv("TOOLKIT_APP_ROOT", str(root))
    call_map = CallMap(app=app, region="us-east-1", calls_table=aws.table, payload_bucket=aws.bucket,
                       functions=functions, classes=classes)
    name = stack_name(app, None, region="us-east-1")
    client("ssm").put_parameter(Name=parameter_name(name.project, name.stack), Value=call_map.dumps(),
                                Type="String", Tier="Intelligent-Tiering")
    return call_map


@pytest.fixture
def deployed(recorded_executions: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CallMap]:
    yield _deploy(tmp_path / "image", DEMO_APP, "lookup-demo", {
        "child": MappedFunction("child", state_machine_arn=_machine("child")),
        "Model.predict": MappedFunction("Model.predict", state_machine_arn=_machine("Model.predict"), cls="Model"),
        "hello": MappedFunction("hello", kind="fastapi_endpoint", url=DEPLOYED_URL)},
        {"Model": (("size", "int", 1),)}, recorded_executions, monkeypatch)
    lambda_handler.shutdown()
    sys.modules.pop("demo_app", None)


@pytest.fixture
def deployed_example(recorded_executions: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CallMap]:
    """examples/lookups.py, deployed."""
    yield _deploy(tmp_path / "image", (REPO / "examples" / "lookups.py").read_text(), "lookups", {
        "square": MappedFunction("square", state_machine_arn=_machine("square")),
        "Counter.add": MappedFunction("Counter.add", state_machine_arn=_machine("Counter.add"), cls="Counter"),
        "hello": MappedFunction("hello", kind="fastapi_endpoint", url="https://default--lookups-hello.example.com")},
        {"Counter": (("start", "int", 0),)}, recorded_executions, monkeypatch)
    lambda_handler.shutdown()
    sys.modules.pop("demo_app", None)


class Workers:
    """Each pending call's worker task, run by the real runtime handler of its function, as it appears."""

    def __init__(self, table: str) -> None:
        self.table, self.stop = table, threading.Event()
        self.ran: list[tuple[str, str]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from runtime.deployment import load_deployment

        services: dict[str, Any] = {}
        while not self.stop.wait(0.05):
            for item in client("dynamodb").scan(TableName=self.table)["Items"]:
                if item["status"]["S"] != "pending":
                    continue
                tag, call_id = item["function"]["S"], item["call_id"]["S"]
                if tag not in services:
                    services[tag] = lambda_handler.FunctionService(load_deployment(tag=tag))
                services[tag].handle({"toolkit_event": "worker_task", "call_id": call_id, "function": tag}, None)
                self.ran.append((tag, call_id))

    def __enter__(self) -> Workers:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_a_second_process_looks_up_the_deployed_app_and_calls_it(deployed: CallMap, tmp_path: Path) -> None:
    with Workers(deployed.calls_table) as workers:
        result = subprocess.run([sys.executable, "-c", CLIENT], cwd=tmp_path, env=_client_env(tmp_path),
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    spawned_line, out_line = result.stdout.strip().splitlines()
    spawned, out = json.loads(spawned_line)["spawned"], json.loads(out_line)
    assert out["get"] == 42 and out["remote"] == 10 and out["map"] == [2, 4, 6]
    assert out["model"] == 12  # the class parameter travelled with the call
    assert out["url"] == DEPLOYED_URL  # the URL the deploy recorded, not one made up locally
    assert "looked up from the deployed app 'lookup-demo'" in out["local"]
    # every call went through a Step Functions worker of the deployed app, named after its call id
    machine = deployed.functions["child"].state_machine_arn
    executions = {e["name"] for e in client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]}
    assert out["aio"] == [12, [14, 16]]  # .remote.aio and .map.aio go the same way
    assert spawned in executions and len(executions) == 8
    assert ("Model.predict", next(c for t, c in workers.ran if t == "Model.predict")) in workers.ran


def test_function_call_from_id_in_a_third_process_reads_the_deployed_call_table(deployed: CallMap,
                                                                                tmp_path: Path) -> None:
    with Workers(deployed.calls_table):
        spawn = subprocess.run(
            [sys.executable, "-c", "import toolkit; c = toolkit.Function.from_name('lookup-demo', 'child').spawn(7);"
                                   "c.get(timeout=60); print(c.object_id)"],
            cwd=tmp_path, env=_client_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert spawn.returncode == 0, spawn.stderr
    call_id = spawn.stdout.strip()
    collect = subprocess.run(
        [sys.executable, "-c", "import toolkit; toolkit.App.lookup('lookup-demo'); "
                               f"r = toolkit.FunctionCall.from_id({call_id!r}).get(timeout=0); print(r['doubled'], r['call'])"],
        cwd=tmp_path, env=_client_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert collect.returncode == 0, collect.stderr
    assert collect.stdout.split() == ["14", call_id]  # inside the function, current_function_call_id() is the call's


def test_not_found_names_the_parameter_region_and_endpoint_it_searched(deployed: CallMap, tmp_path: Path) -> None:
    code = "import toolkit; toolkit.Function.from_name('lookup-demo', 'child', environment_name='prod')"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_client_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    assert (f"no call map at SSM parameter /toolkit/toolkit-lookup-demo/prod-us-east-1/call-map in region us-east-1 "
            f"at {endpoint}, account 123456789012 (environment prod)") in result.stderr
    assert "it is not loaded in this process, and no running `toolkit serve`" in result.stderr
    assert "deploy it (`toolkit deploy <file>.py`)" in result.stderr


def test_lookup_local_never_reads_aws(deployed: CallMap, tmp_path: Path) -> None:
    code = "import toolkit; toolkit.App.lookup('lookup-demo')"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path,
                            env=_client_env(tmp_path, TOOLKIT_LOOKUP="local"), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0 and "TOOLKIT_LOOKUP=local" in result.stderr
    assert "SSM" not in result.stderr  # the deployed app exists, but was not searched


def test_the_deployed_lookup_example_calls_the_deployed_app(deployed_example: CallMap, tmp_path: Path) -> None:
    with Workers(deployed_example.calls_table):
        result = subprocess.run([sys.executable, str(REPO / "examples" / "clients" / "deployed_lookup_client.py")],
                                cwd=tmp_path, env=_client_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("remote=16 map=[1, 4, 9] spawned=49 counter=15 "
                                     "url=https://default--lookups-hello.example.com")


class LambdaInvokeEndpoint:
    """Lambda's Invoke API (``POST /2015-03-31/functions/{FunctionName}/invocations``) on loopback,
    answering with the real runtime handler of the invoked function, so a looked-up ``.remote`` on a
    Lambda function goes through boto3's real invoke; moto cannot run Lambda code."""

    def __init__(self) -> None:
        import http.server
        import urllib.parse

        from runtime.deployment import load_deployment

        self.requests: list[tuple[str, str | None, dict[str, Any]]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                name = urllib.parse.unquote(self.path.split("/functions/", 1)[1].split("/invocations", 1)[0])
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((name, self.headers.get("X-Amz-Invocation-Type"), event))
                service = lambda_handler.FunctionService(load_deployment(tag=event["function"]))
                body = json.dumps(service.handle(event, None)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # shutdown() returns at the loop's next poll: 0.5 s by default, at every teardown
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> LambdaInvokeEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()


ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:lookup-demo-main-us-east-1-child:live"


@pytest.fixture
def deployed_on_lambda(recorded_executions: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CallMap]:
    """``child`` with a Lambda alias, as deploy maps a Lambda function: ``.remote`` invokes it."""
    yield _deploy(tmp_path / "image", DEMO_APP, "lookup-demo", {
        "child": MappedFunction("child", lambda_arn=ALIAS, state_machine_arn=_machine("child"))},
        {}, recorded_executions, monkeypatch)
    lambda_handler.shutdown()
    sys.modules.pop("demo_app", None)


def test_remote_on_a_looked_up_lambda_function_invokes_its_alias(deployed_on_lambda: CallMap, tmp_path: Path) -> None:
    code = ("import toolkit; r = toolkit.Function.from_name('lookup-demo', 'child').remote(20); "
            "print(r['doubled'], r['call'])")
    with LambdaInvokeEndpoint() as endpoint:
        result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                                timeout=120, env=_client_env(tmp_path, AWS_ENDPOINT_URL_LAMBDA=endpoint.url))
    assert result.returncode == 0, result.stderr
    doubled, call_id = result.stdout.split()
    assert doubled == "40"
    # one synchronous invoke of the alias, carrying only the call id: the input went through the call table
    assert endpoint.requests == [(ALIAS, "RequestResponse", {"toolkit_event": "call", "function": "child",
                                                              "call_id": call_id})]
    machine = deployed_on_lambda.functions["child"].state_machine_arn
    assert client("stepfunctions").list_executions(stateMachineArn=machine)["executions"] == []  # no worker


def test_lookup_deployed_skips_an_app_of_that_name_loaded_here(deployed: CallMap, tmp_path: Path) -> None:
    code = ("import toolkit; local = toolkit.App('lookup-demo'); local.function()(lambda: 1); "
            "print(sorted(toolkit.App.lookup('lookup-demo').registered_functions))")
    here = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_client_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert here.returncode == 0, here.stderr
    assert here.stdout.strip() == "['<lambda>']"  # auto: the app loaded in this process comes first
    there = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                           env=_client_env(tmp_path, TOOLKIT_LOOKUP="deployed"))
    assert there.returncode == 0, there.stderr
    assert there.stdout.strip() == "['Model.predict', 'child', 'hello']"  # the deployed app's functions
    wrong = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                           env=_client_env(tmp_path, TOOLKIT_LOOKUP="remote"))
    assert "TOOLKIT_LOOKUP='remote' is not one of auto, local, deployed" in wrong.stderr


VARIANT_APP = '''
import toolkit

app = toolkit.App("variant-demo")

@app.function(memory=512, retries=2, secrets=[toolkit.Secret.from_dict({"TOKEN": "t"})])
def embed(x):
    return {"x": x, "call": toolkit.current_function_call_id()}

big = embed.with_options(gpu="A10G", memory=16384)

@app.cls(cpu=2)
class Model:
    @toolkit.method()
    def predict(self, x):
        return x + 1

Large = Model.with_options(memory=4096)
'''

VARIANT_CLIENT = '''
import json, toolkit
embed = toolkit.Function.from_name("variant-demo", "embed")
out = {"big": embed.with_options(gpu="A10G", memory=16384).spawn(3).object_id,
       "same": embed.with_options(memory=512).spawn(4).object_id,
       "large": toolkit.Cls.from_name("variant-demo", "Model").with_options(memory=4096)().predict.spawn(5).object_id}
try:
    embed.with_options(gpu="H100")
except toolkit.exception.NotFoundError as exc:
    out["missing"] = str(exc)
print(json.dumps(out), flush=True)
'''


@pytest.fixture
def deployed_variants(recorded_executions: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CallMap]:
    """VARIANT_APP deployed as infra maps it: every manifest entry (the variants under their deployed tags)
    with its own worker and the options `runtime.callmap.deployed_options` records from the manifest."""
    from runtime import manifest as schema
    from runtime.callmap import deployed_options

    root = tmp_path / "image"
    _deploy(root, VARIANT_APP, "variant-demo", {}, {}, recorded_executions, monkeypatch)
    entries = schema.load(str(root / "manifest.json")).functions
    call_map = CallMap(app="variant-demo", region="us-east-1", calls_table=recorded_executions.table,
                       payload_bucket=recorded_executions.bucket, functions={
                           e.tag: MappedFunction(e.tag, state_machine_arn=_machine(e.tag.replace("~", "-")),
                                                 cls=e.cls.name if e.cls else None, options=deployed_options(e))
                           for e in entries}, classes={"Model": ()})
    name = stack_name("variant-demo", None, region="us-east-1")
    client("ssm").put_parameter(Name=parameter_name(name.project, name.stack), Value=call_map.dumps(),
                                Type="String", Tier="Intelligent-Tiering", Overwrite=True)
    yield call_map
    lambda_handler.shutdown()
    sys.modules.pop("demo_app", None)


def _started_on(call_map: CallMap, call_id: str) -> str:
    """The tag whose worker state machine got the execution for ``call_id``."""
    for tag, mapped in call_map.functions.items():
        executions = client("stepfunctions").list_executions(stateMachineArn=mapped.state_machine_arn)["executions"]
        if any(e["name"] == call_id for e in executions):
            return tag
    raise AssertionError(f"no worker started for {call_id}")


def test_with_options_on_a_looked_up_function_calls_the_deployed_variant(deployed_variants: CallMap,
                                                                          tmp_path: Path) -> None:
    tags = sorted(deployed_variants.functions)
    big, large = (next(t for t in tags if t.startswith(f"{base}~")) for base in ("embed", "Model.predict"))
    assert len(tags) == 4  # embed, Model.predict and one variant of each
    result = subprocess.run([sys.executable, "-c", VARIANT_CLIENT], cwd=tmp_path, env=_client_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert _started_on(deployed_variants, out["big"]) == big  # the tag the app's own import gave the variant
    assert _started_on(deployed_variants, out["same"]) == "embed"  # options equal to the function's: itself
    assert _started_on(deployed_variants, out["large"]) == large
    assert client("dynamodb").get_item(TableName=deployed_variants.calls_table, Key={"call_id": {"S": out["big"]}})[
        "Item"]["function"]["S"] == big
    with Workers(deployed_variants.calls_table):  # the variant's own worker runs it
        collect = subprocess.run(
            [sys.executable, "-c", "import toolkit; toolkit.App.lookup('variant-demo'); "
                                   f"print(toolkit.FunctionCall.from_id({out['big']!r}).get(timeout=60)['x'])"],
            cwd=tmp_path, env=_client_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert collect.returncode == 0, collect.stderr
    assert collect.stdout.strip() == "3"
    missing = out["missing"]
    assert "variant-demo.embed.with_options(gpu='H100') would call the deployed variant 'embed~" in missing
    assert f"(its variants of 'embed': {big})" in missing
    assert "`embed_variant = embed.with_options(gpu='H100')` beside the function and run `toolkit deploy`" in missing


def test_the_call_maps_options_are_the_ones_the_variant_tags_are_computed_from(tmp_path: Path) -> None:
    """`runtime.callmap.deployed_options` (from the manifest, what deploy writes) and
    `toolkit.variants.deployed_options` (from the handle) agree on every function and variant."""
    (tmp_path / "variant_app.py").write_text(VARIANT_APP)
    code = ("import json, variant_app; from runtime import manifest as schema; from runtime import callmap; "
            "from toolkit import variants; from toolkit.manifest import build_manifest; "
            "app = variant_app.app; entries = schema.load(build_manifest(app)).functions; "
            "specs = {**{t: f.spec for t, f in app.registered_functions.items()}, "
            "**{t: v.spec for t, v in variants.registered_variants(app).items()}}; "
            "print(json.dumps([[e.tag, callmap.deployed_options(e), variants.deployed_options(specs[e.tag])] "
            "for e in entries]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 4
    for tag, from_manifest, from_spec in rows:
        assert {"batch": None, "regions": [], **from_manifest} == from_spec, tag
    embed = next(r[1] for r in rows if r[0] == "embed")
    assert (embed["memory"], embed["retries"][0], len(embed["secrets"])) == (512, 2, 1)


def test_function_call_from_id_in_a_fresh_process_finds_the_deployed_call_by_its_id_alone(deployed: CallMap,
                                                                                           tmp_path: Path) -> None:
    with Workers(deployed.calls_table):
        spawn = subprocess.run(
            [sys.executable, "-c", "import toolkit; print(toolkit.Function.from_name('lookup-demo', 'child')"
                                   ".spawn(8).object_id)"],
            cwd=tmp_path, env=_client_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert spawn.returncode == 0, spawn.stderr
        call_id = spawn.stdout.strip()
        # no lookup, no app name: only the id, and AWS settings pointing at moto
        collect = subprocess.run(
            [sys.executable, "-c", f"import toolkit; print(toolkit.FunctionCall.from_id({call_id!r}).get(timeout=60)"
                                   "['doubled'])"],
            cwd=tmp_path, env=_client_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert collect.returncode == 0, collect.stderr
    assert collect.stdout.strip() == "16"


def test_an_unknown_call_id_is_not_found_naming_the_id_and_what_was_searched(deployed: CallMap,
                                                                            tmp_path: Path) -> None:
    unknown = "fc-" + "0f" * 16
    code = f"import toolkit; toolkit.FunctionCall.from_id({unknown!r}).get(timeout=0)"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_client_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert f"toolkit.exception.NotFoundError: No call {unknown!r} in the local call store" in result.stderr
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    assert f"app(s) deployed in region us-east-1 at {endpoint} (call maps under SSM /toolkit/)" in result.stderr
    local = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                           env=_client_env(tmp_path, TOOLKIT_LOOKUP="local"))
    assert "TOOLKIT_LOOKUP=local: no deployed app was searched" in local.stderr


def test_a_call_of_an_app_deployed_after_this_process_searched_is_found(aws: Any) -> None:
    """The call maps read are kept for the process; an id none of their tables holds lists them again."""
    from runtime.callstore.dynamodb import DynamoDBCallStore
    from toolkit.call_search import find_deployed_call

    unknown = "fc-" + "1e" * 16
    assert find_deployed_call(unknown)[0] is None  # reads (and keeps) the maps deployed so far
    late = f"late-{uuid.uuid4().hex[:6]}"
    call_map = CallMap(app=late, region="us-east-1", calls_table=aws.table, payload_bucket=aws.bucket,
                       functions={"f": MappedFunction("f", state_machine_arn=_machine("f"))})
    client("ssm").put_parameter(Name=parameter_name(f"toolkit-{late}", "main-us-east-1"), Value=call_map.dumps(),
                                Type="String")
    call_id = "fc-" + uuid.uuid4().hex
    DynamoDBCallStore(aws.table).create(call_id, late, "f", b"")
    runner, search = find_deployed_call(call_id)
    assert runner is not None and runner.transport.app_name == late and runner.transport.store.table == aws.table
    assert find_deployed_call(unknown)[1].describe().startswith("nor in the call table of any of the ")


def test_a_missing_variant_of_a_looked_up_class_names_the_class_in_the_fix(deployed_variants: CallMap,
                                                                           tmp_path: Path) -> None:
    code = ("import toolkit; Model = toolkit.Cls.from_name('variant-demo', 'Model'); "
            "Model.with_options(memory=8192)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_client_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    large = next(t for t in deployed_variants.functions if t.startswith("Model.predict~"))
    assert "variant-demo.Model.predict.with_options(memory=8192) would call the deployed variant" in result.stderr
    assert f"(its variants of 'Model.predict': {large})" in result.stderr
    assert "`Model_variant = Model.with_options(memory=8192)` beside the function" in result.stderr


def test_an_unknown_id_after_a_looked_up_apps_table_is_gone_is_still_not_found(aws: Any) -> None:
    """A table destroyed with its stack (an app this process looked up earlier) holds no call: the id
    is looked for elsewhere and ends NotFoundError, not DynamoDB's ResourceNotFoundException."""
    from runtime.callstore.dynamodb import DynamoDBCallStore
    from runtime.cloud_client import transport_from_call_map
    from toolkit.call_search import find_deployed_call
    from toolkit.deployed_code import remember_runner, runner_for_call
    from toolkit.runner import CloudRunner

    gone = f"gone-{uuid.uuid4().hex[:6]}"
    client("dynamodb").create_table(TableName=gone, BillingMode="PAY_PER_REQUEST",
                                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    call_map = CallMap(app=gone, region="us-east-1", calls_table=gone, payload_bucket=aws.bucket,
                       functions={"f": MappedFunction("f", state_machine_arn=_machine("f"))})
    client("ssm").put_parameter(Name=parameter_name(f"toolkit-{gone}", "main-us-east-1"), Value=call_map.dumps(),
                                Type="String")
    remember_runner(CloudRunner(transport_from_call_map(call_map)))  # as App.lookup(gone) leaves it
    client("dynamodb").delete_table(TableName=gone)
    unknown = "fc-" + "2d" * 16
    assert runner_for_call(unknown) is None  # before: ResourceNotFoundException from the gone table
    assert find_deployed_call(unknown)[0] is None
    call_id = "fc-" + uuid.uuid4().hex  # and a call of a live app is still found past the gone one
    DynamoDBCallStore(aws.table).create(call_id, "live", "f", b"")
    client("ssm").put_parameter(Name=parameter_name("toolkit-live-" + gone, "main-us-east-1"), Type="String",
                                Value=CallMap(app="live", region="us-east-1", calls_table=aws.table,
                                              payload_bucket=aws.bucket, functions={}).dumps())
    assert find_deployed_call(call_id)[0] is not None
    from toolkit import FunctionCall, NotFoundError

    with pytest.raises(NotFoundError):
        FunctionCall.from_id(unknown).get(timeout=0)

"""SIGTERM ends an environment with its shutdown hooks: ASGI lifespan shutdown and ``@exit``.

Every test runs a real entrypoint as a separate process, as the image does, and sends it a real
SIGTERM: the Lambda loop (``python -m runtime.lambda_loop``, against the fake Runtime API), the
ECS/GPU HTTP server (``python -m runtime.server``) and the ECS worker (``python -m runtime.entrypoints.worker_task``).
The app's hooks append to files in a marker directory, and a gate file is the only thing that
lets a hanging handler go on, so "the hook ran" and "the handler was still running" are facts
read from files, never from timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_runtime_api import FakeRuntimeAPI
from loopback import free_port
from runtime_support import FIXTURES

from runtime.invocation import call_event, encode_args

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 30  # generous: a cold start takes about a second, but the machine is shared
MODULE = "stopping_app"

STOPPING_APP = '''
import contextlib, os, time
import toolkit
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

app = toolkit.App("stopping")


def mark(name):
    with open(os.path.join(os.environ["MARK_DIR"], name), "a") as f:
        f.write("%d\\n" % os.getpid())


def hang(name):
    """Block the calling thread (the main thread, in an async endpoint) until the test's gate opens."""
    mark(name)
    while not os.path.exists(os.path.join(os.environ["MARK_DIR"], "gate")):
        time.sleep(0.005)


def lifespan(prefix):
    @contextlib.asynccontextmanager
    async def run(web):
        mark(prefix + "startup")
        yield
        mark(prefix + "shutdown")
    return run


def build(prefix):
    web = FastAPI(lifespan=lifespan(prefix))

    @web.get("/")
    def root():
        return {"ok": True}

    @web.get("/hang")
    async def hang_here():  # blocks the event loop's own thread: SIGTERM arrives inside the app
        hang("hanging")
        return {"released": True}

    @web.get("/stream")
    async def stream():
        async def body():
            yield b"first;"
            hang("streaming")
            yield b"second;"
        return StreamingResponse(body(), media_type="text/plain")

    return web


@app.function()
@toolkit.asgi_app()
def web():
    return build("lifespan-")


@app.cls()
class Model:
    size: int = toolkit.parameter(default=1)

    @toolkit.enter()
    def load(self):
        mark("enter-%d" % self.size)

    @toolkit.exit()
    def unload(self):
        mark("exit-%d" % self.size)
        if os.environ.get("SLOW_EXIT"):
            time.sleep(float(os.environ["SLOW_EXIT"]))
            mark("slept-%d" % self.size)

    @toolkit.method()
    def predict(self, x):
        if x < 0:
            hang("calling")
        return x * self.size

    @toolkit.asgi_app()
    def api(self):
        return build("instance-%d-" % self.size)
'''


@dataclass(frozen=True)
class Deployed:
    root: Path
    marks: Path

    def env(self, tag: str, **extra: str) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLKIT_", "AWS_LAMBDA_"))}
        return {**clean, "TOOLKIT_MANIFEST": str(self.root / "manifest.json"), "TOOLKIT_FUNCTION": tag,
                "TOOLKIT_APP_ROOT": str(self.root), "MARK_DIR": str(self.marks),
                "PYTHONPATH": f"{REPO}{os.pathsep}{self.root}", **extra}

    def marked(self) -> set[str]:
        return {p.name for p in self.marks.iterdir() if p.name != "gate"}

    def wait_mark(self, name: str, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not (self.marks / name).exists():
            assert process.poll() is None, f"the process exited ({process.returncode}) before marking {name}"
            assert time.monotonic() < deadline, f"{name} was never marked"
            time.sleep(0.01)


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[Deployed]:
    from toolkit.loader import import_path
    from toolkit.manifest import build_manifest

    (tmp_path / f"{MODULE}.py").write_text(STOPPING_APP)
    (tmp_path / "marks").mkdir()
    module = import_path(str(tmp_path / f"{MODULE}.py"))
    try:
        source = {"kind": "file", "path": f"{MODULE}.py", "module": None, "app_variable": "app"}
        (tmp_path / "manifest.json").write_text(json.dumps(build_manifest(module.app, source=source)))
    finally:
        sys.modules.pop(MODULE, None)
    yield Deployed(tmp_path, tmp_path / "marks")


Spawn = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start an entrypoint process; whatever a test leaves running is killed at its end."""
    started: list[subprocess.Popen[bytes]] = []

    def _spawn(module: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-m", module], env=env, cwd=cwd, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(process)
        return process

    yield _spawn
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def terminate(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the process alone (as ECS and Lambda send it), and its exit status."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the process did not exit after SIGTERM")


def stderr_of(process: subprocess.Popen[bytes]) -> str:
    assert process.stderr is not None
    return process.stderr.read().decode(errors="replace")[-3000:]


# -- Lambda: python -m runtime.lambda_loop ---------------------------------------------------------------


@pytest.fixture
def lambda_api() -> Iterator[FakeRuntimeAPI]:
    api = FakeRuntimeAPI()
    yield api
    api.stop()


def start_loop(spawn: Spawn, deployed: Deployed, api: FakeRuntimeAPI, tag: str, **extra: str) -> subprocess.Popen[bytes]:
    """The loop, its shutdown grace long (a loaded machine can take more than Lambda's 450 ms to run
    hooks that take 60 ms alone) unless the test sets TOOLKIT_SHUTDOWN_GRACE_S ("" for the default)."""
    extra = {"TOOLKIT_SHUTDOWN_GRACE_S": "8", **extra}
    return spawn("runtime.lambda_loop", deployed.env(tag, AWS_LAMBDA_RUNTIME_API=api.start(), **extra), deployed.root)


def http_api_event(path: str = "/") -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / "aws-events" / "apigw-v2-http-api.json").read_text())
    event.update(rawPath=path, rawQueryString="", headers={"host": "example.com"}, cookies=[], body=None,
                 isBase64Encoded=False)
    event["requestContext"]["http"].update(method="GET", path=path)
    return event


def function_url_event(path: str) -> dict[str, Any]:
    event = http_api_event(path)
    event["headers"] = {"host": "abc.lambda-url.us-east-1.on.aws"}
    event["requestContext"]["domainName"] = "abc.lambda-url.us-east-1.on.aws"
    return event


def answered(api: FakeRuntimeAPI, event: Any) -> Any:
    request_id = api.invoke(event)
    posted = api.next_posted(WAIT_S)
    assert (posted.kind, posted.request_id) == ("response", request_id), posted
    return json.loads(posted.body)


def test_lambda_sigterm_between_invocations_runs_the_lifespan_shutdown_and_exits_0(
        spawn: Spawn, deployed: Deployed, lambda_api: FakeRuntimeAPI) -> None:
    process = start_loop(spawn, deployed, lambda_api, "web")
    assert answered(lambda_api, http_api_event("/"))["statusCode"] == 200
    assert "lifespan-shutdown" not in deployed.marked()  # the loop now waits in `next`

    assert terminate(process) == 0, stderr_of(process)
    assert deployed.marked() == {"lifespan-startup", "lifespan-shutdown"}


def test_lambda_sigterm_runs_the_exit_hooks_of_every_instance_calls_built(
        spawn: Spawn, deployed: Deployed, lambda_api: FakeRuntimeAPI) -> None:
    process = start_loop(spawn, deployed, lambda_api, "Model.predict")
    for size in (2, 3):
        reply = answered(lambda_api, call_event("Model.predict", payload=encode_args((5,), {}, (("size", size),))))
        assert reply["toolkit_result"] == "ok", reply
    assert not {"exit-2", "exit-3"} & deployed.marked()

    assert terminate(process) == 0, stderr_of(process)
    assert {"enter-2", "enter-3", "exit-2", "exit-3"} <= deployed.marked()


def test_lambda_sigterm_runs_each_web_instance_lifespan_and_exit_hooks(
        spawn: Spawn, deployed: Deployed, lambda_api: FakeRuntimeAPI) -> None:
    process = start_loop(spawn, deployed, lambda_api, "Model.api")
    event = http_api_event("/")
    event["rawQueryString"] = "size=4"
    assert answered(lambda_api, event)["statusCode"] == 200

    assert terminate(process) == 0, stderr_of(process)
    assert {"instance-4-startup", "instance-4-shutdown", "exit-4"} <= deployed.marked()


@pytest.mark.parametrize("event", [http_api_event("/hang"), function_url_event("/stream")], ids=["buffered", "stream"])
def test_lambda_sigterm_mid_invocation_posts_nothing_for_it_and_still_shuts_down(
        spawn: Spawn, deployed: Deployed, lambda_api: FakeRuntimeAPI, event: dict[str, Any]) -> None:
    process = start_loop(spawn, deployed, lambda_api, "web")
    lambda_api.invoke(event)
    streamed = event["rawPath"] == "/stream"
    deployed.wait_mark("streaming" if streamed else "hanging", process)
    if streamed:  # the prelude and the first chunk are out: the response had started
        assert b"first;" in lambda_api.next_chunk(WAIT_S) + lambda_api.next_chunk(WAIT_S)

    assert terminate(process) == 0, stderr_of(process)
    assert "lifespan-shutdown" in deployed.marked()
    # neither Mangum's 500 for the interrupted app nor a stream's last chunk reached the API
    assert lambda_api.posted.empty(), lambda_api.posted.get()


def test_lambda_shutdown_hooks_cannot_outlast_the_grace(
        spawn: Spawn, deployed: Deployed, lambda_api: FakeRuntimeAPI) -> None:
    process = start_loop(spawn, deployed, lambda_api, "Model.predict", SLOW_EXIT="600", TOOLKIT_SHUTDOWN_GRACE_S="")
    reply = answered(lambda_api, call_event("Model.predict", payload=encode_args((5,), {}, (("size", 2),))))
    assert reply["toolkit_result"] == "ok", reply

    # the hook sleeps 600 s; the loop exits once SHUTDOWN_GRACE_S is over, long before WAIT_S
    assert terminate(process) == 0, stderr_of(process)
    assert "exit-2" in deployed.marked() and "slept-2" not in deployed.marked()


def test_a_longer_shutdown_grace_lets_slower_hooks_finish(
        spawn: Spawn, deployed: Deployed, lambda_api: FakeRuntimeAPI) -> None:
    # an external extension gives Lambda's Shutdown phase 2 s: the knob lets a 1 s hook finish
    process = start_loop(spawn, deployed, lambda_api, "Model.predict", SLOW_EXIT="1", TOOLKIT_SHUTDOWN_GRACE_S="6")
    reply = answered(lambda_api, call_event("Model.predict", payload=encode_args((5,), {}, (("size", 2),))))
    assert reply["toolkit_result"] == "ok", reply
    assert terminate(process) == 0, stderr_of(process)
    assert {"exit-2", "slept-2"} <= deployed.marked()


def test_a_malformed_shutdown_grace_fails_the_start_naming_it(
        spawn: Spawn, deployed: Deployed, lambda_api: FakeRuntimeAPI) -> None:
    # as every malformed container variable does: the answer names it and the fix, and SIGTERM still
    # ends the process within the default bound
    process = start_loop(spawn, deployed, lambda_api, "Model.predict", TOOLKIT_SHUTDOWN_GRACE_S="soon")
    reply = answered(lambda_api, call_event("Model.predict", payload=encode_args((5,), {}, (("size", 2),))))
    assert reply["statusCode"] == 500 and "TOOLKIT_SHUTDOWN_GRACE_S='soon' is not a number" in reply["body"], reply
    assert terminate(process) == 0, stderr_of(process)


# -- ECS/GPU: python -m runtime.server (uvicorn) -------------------------------------------------------------


def start_server(spawn: Spawn, deployed: Deployed, tag: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = spawn("runtime.server", deployed.env(tag, PORT=str(port)), deployed.root)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + WAIT_S * 2
    while True:
        assert process.poll() is None, f"runtime.server exited: {stderr_of(process)}"
        assert time.monotonic() < deadline, "runtime.server did not become healthy"
        try:
            if httpx.get(f"{base}/__toolkit/health", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.05)


def test_server_sigterm_runs_the_app_lifespan_shutdown_and_exits_0(spawn: Spawn, deployed: Deployed) -> None:
    process, base = start_server(spawn, deployed, "web")
    assert httpx.get(f"{base}/", timeout=WAIT_S).json() == {"ok": True}
    assert "lifespan-shutdown" not in deployed.marked()

    assert terminate(process) == 0, stderr_of(process)
    assert deployed.marked() == {"lifespan-startup", "lifespan-shutdown"}


def test_server_sigterm_closes_every_instance_of_a_class_web_method(spawn: Spawn, deployed: Deployed) -> None:
    process, base = start_server(spawn, deployed, "Model.api")
    for size in (2, 3):
        assert httpx.get(f"{base}/?size={size}", timeout=WAIT_S).json() == {"ok": True}
    assert not {"exit-2", "exit-3"} & deployed.marked()

    assert terminate(process) == 0, stderr_of(process)
    assert {"instance-2-shutdown", "instance-3-shutdown", "exit-2", "exit-3"} <= deployed.marked()


# -- ECS worker task: python -m runtime.entrypoints.worker_task-----------------------------------------------------------


def start_worker(spawn: Spawn, deployed: Deployed, aws: Any, x: int) -> tuple[subprocess.Popen[bytes], str]:
    from runtime.callstore.base import new_call_id
    from runtime.callstore.dynamodb import DynamoDBCallStore

    call_id = new_call_id()
    DynamoDBCallStore.from_env().create(call_id, "stopping", "Model.predict", encode_args((x,), {}, (("size", 2),)))
    task = json.dumps({"toolkit_event": "worker_task", "call_id": call_id, "function": "Model.predict"})
    store_env = {name: os.environ[name] for name in ("TOOLKIT_CALLS_TABLE", "TOOLKIT_PAYLOAD_BUCKET")}  # `aws` set them
    env = deployed.env("Model.predict", TOOLKIT_WORKER_TASK=task, **store_env)
    return spawn("runtime.entrypoints.worker_task", env, deployed.root), call_id


def test_worker_runs_exit_hooks_when_its_call_is_done(spawn: Spawn, deployed: Deployed, aws: Any) -> None:
    from runtime.callstore.base import CallStatus
    from runtime.callstore.dynamodb import DynamoDBCallStore

    process, call_id = start_worker(spawn, deployed, aws, 5)
    assert process.wait(WAIT_S * 2) == 0, stderr_of(process)
    record = DynamoDBCallStore.from_env().get(call_id)
    assert record is not None and record.status is CallStatus.DONE
    assert {"enter-2", "exit-2"} <= deployed.marked()


def test_worker_sigterm_mid_call_runs_exit_hooks_and_leaves_the_call_unrecorded(
        spawn: Spawn, deployed: Deployed, aws: Any) -> None:
    from runtime.callstore.base import CallStatus
    from runtime.callstore.dynamodb import DynamoDBCallStore

    process, call_id = start_worker(spawn, deployed, aws, -1)
    deployed.wait_mark("calling", process)

    assert terminate(process) == 128 + signal.SIGTERM, stderr_of(process)
    assert "exit-2" in deployed.marked()
    record = DynamoDBCallStore.from_env().get(call_id)
    assert record is not None and record.status is CallStatus.RUNNING  # Step Functions' MarkFailed takes it from here

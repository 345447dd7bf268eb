"""A user app of streaming endpoints and the runtime process that serves it, for the Runtime API
loop tests (tests/runtime/test_lambda_loop.py).

The apps block on *gates*: files in ``GATE_DIR`` that the test creates to let the app go on.
A gate is the only thing that releases the app, so "the first event arrived before the second
could be produced" is a fact about ordering, not about timing.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_runtime_api import FakeRuntimeAPI, Posted
from runtime_support import FIXTURES

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 20  # generous: a cold start here takes about 1 s, but the machine is shared

USER_APP = '''
import asyncio, json, os, subprocess, sys, time
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

def gate(name):
    path = os.path.join(os.environ["GATE_DIR"], name)
    while not os.path.exists(path):
        time.sleep(0.005)

def sse_events():
    yield b"data: 0\\n\\n"
    gate("one")
    yield b"data: 1\\n\\n"
    gate("two")
    yield b"data: 2\\n\\n"

def sse():
    return StreamingResponse(sse_events(), media_type="text/event-stream")

def cookies():
    response = JSONResponse({"ok": True}, headers={"x-extra": "yes"})
    response.set_cookie("a", "1")
    response.set_cookie("b", "2", httponly=True)
    return response

def broken_events():
    yield b"part one;"
    gate("break")
    raise RuntimeError("the stream broke")

def broken():
    return StreamingResponse(broken_events(), media_type="text/plain")

def square(x: int = 3):
    return {"square": x * x}

def slow():
    gate("slow")
    return {"finally": True}

def asgi():
    web = FastAPI()

    @web.post("/echo")
    async def echo(request: Request):
        return Response(await request.body(), media_type="application/octet-stream")

    @web.get("/big")
    def big():
        return Response(bytes(range(256)) * 4096, media_type="application/octet-stream")
    return web

def server():
    here = os.path.dirname(__file__)
    subprocess.Popen([sys.executable, os.path.join(here, "upstream.py"), os.environ["UPSTREAM_PORT"]])
'''

# the user's own server for @web_server: a raw ASGI app under uvicorn, chunked bodies it streams
UPSTREAM = '''
import asyncio, os, sys, uvicorn

async def gate(name):
    path = os.path.join(os.environ["GATE_DIR"], name)
    while not os.path.exists(path):
        await asyncio.sleep(0.005)

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/big":
        body = bytes(range(256)) * 4096
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/octet-stream"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    if path == "/slow":
        await gate("server-slow")
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/event-stream"), (b"set-cookie", b"s=1")]})
    for i, name in enumerate(("server-one", "server-two")):
        await send({"type": "http.response.body", "body": b"data: %d\\n\\n" % i, "more_body": True})
        await gate(name)
    await send({"type": "http.response.body", "body": b"data: end\\n\\n"})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
'''

# a plain Lambda handler (not toolkit's): what a custom handler string in ImageConfig.Command gets
CONTEXT_HANDLER = '''
import os

def handler(event, context):
    return {"event": event, "request_id": context.aws_request_id, "remaining": context.get_remaining_time_in_millis(),
            "function_name": context.function_name, "arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb, "log_group": context.log_group_name,
            "trace": os.environ.get("_X_AMZN_TRACE_ID")}

def explode(event, context):
    raise ValueError("no good: " + str(event))
'''

BROKEN_MODULE = "raise RuntimeError('this module cannot be imported')\n"


def function(tag: str, kind: str = "fastapi_endpoint", *, timeout: int = 60, **web: Any) -> dict[str, Any]:
    web_block = {"method": "GET", "docs": False, "label": tag, "requires_proxy_auth": False, "port": None,
                 "startup_timeout": 15, **web} if kind != "function" else None
    return {"tag": tag, "name": tag, "kind": kind, "is_async": False, "is_generator": False, "cls": None,
            "backend": "lambda", "resources": {"timeout": timeout}, "secrets": [], "web": web_block}


def write_app(root: Path, functions: list[dict[str, Any]]) -> Path:
    for name, text in (("user_app.py", USER_APP), ("upstream.py", UPSTREAM), ("context_handler.py", CONTEXT_HANDLER),
                       ("broken_module.py", BROKEN_MODULE)):
        (root / name).write_text(text)
    (root / "gates").mkdir(exist_ok=True)
    manifest = {"schema_version": 1, "app": {"name": "streams", "source": {
        "kind": "file", "path": "user_app.py", "module": None, "app_variable": "app"}}, "functions": functions}
    path = root / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def function_url_event(path: str = "/", query: str = "", method: str = "GET", body: bytes | None = None,
                       headers: dict[str, str] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / "aws-events" / "function-url-browser-get.json").read_text()))
    event.update(rawPath=path, rawQueryString=query, headers={"host": "abc.lambda-url.us-east-1.on.aws", **(headers or {})},
                 isBase64Encoded=False)
    event.pop("queryStringParameters", None)
    if body is not None:
        import base64

        event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    event["requestContext"]["http"].update(method=method, path=path)
    return event


def http_api_event(path: str = "/", query: str = "") -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / "aws-events" / "apigw-v2-http-api.json").read_text())
    event.update(rawPath=path, rawQueryString=query, headers={"host": "example.com"}, cookies=[], body=None,
                 isBase64Encoded=False)
    event["requestContext"]["http"].update(method="GET", path=path)
    return event


@dataclass
class Runtime:
    """A fake Runtime API and the runtime process polling it."""

    api: FakeRuntimeAPI
    process: subprocess.Popen[bytes]
    gates: Path

    def release(self, gate: str) -> None:
        (self.gates / gate).touch()

    def reply(self, event: Any, raw: bytes | None = None) -> Posted:
        request_id = self.api.invoke_raw(raw) if raw is not None else self.api.invoke(event)
        posted = self.api.next_posted(WAIT_S)
        assert posted.request_id == request_id, posted
        return posted

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        self.api.stop()


def start_runtime(root: Path, functions: list[dict[str, Any]], tag: str, *command: str, **env: str) -> Runtime:
    """``python -m runtime.lambda_loop [handler]`` -- the image's Lambda entrypoint -- against a fake API."""
    api = FakeRuntimeAPI()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    full_env = {**clean, "AWS_LAMBDA_RUNTIME_API": api.start(), "TOOLKIT_MANIFEST": str(write_app(root, functions)),
                "TOOLKIT_FUNCTION": tag, "TOOLKIT_APP_ROOT": str(root), "GATE_DIR": str(root / "gates"),
                "PYTHONPATH": f"{REPO}{os.pathsep}{root}", "AWS_LAMBDA_FUNCTION_NAME": "toolkit-demo",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/toolkit-demo", **env}
    process = subprocess.Popen([sys.executable, "-m", "runtime.lambda_loop", *command], env=full_env, cwd=root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return Runtime(api, process, root / "gates")


def split_prelude(body: bytes) -> tuple[dict[str, Any], bytes]:
    """The HTTP-integration framing, checked exactly: JSON, then 8 NUL bytes, then the body."""
    head, sep, rest = body.partition(b"\0" * 8)
    assert sep, f"no 8-NUL delimiter in {body[:200]!r}"
    prelude: dict[str, Any] = json.loads(head)
    return prelude, rest


def wait_exit(process: subprocess.Popen[bytes], timeout: float = WAIT_S) -> int:
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return process.wait(timeout=1)

"""The handler run by the real ``awslambdaric`` against a fake Lambda Runtime API on loopback.

The image now runs toolkit's own loop in Lambda mode (``python -m runtime.lambda_loop``,
tests/runtime/test_lambda_loop.py); these tests keep the handler a plain awslambdaric handler too
(a user may run ``python3 -m awslambdaric runtime.lambda_handler.handler``, buffered only): a separate
process that imports the handler (our init runs then, at import), polls ``/invocation/next`` and
posts each reply.  The
events are the HTTP API v2 samples the conformance tests use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from deployed_app import function, write_app
from fake_runtime_api import FakeRuntimeAPI, Posted
from runtime_support import FIXTURES

pytest.importorskip("awslambdaric", reason="awslambdaric is not installed: pip install awslambdaric")

REPO = Path(__file__).resolve().parents[2]
POST_WAIT_S = 15  # what the images engineer waited; a cold init here takes about 1 s

Start = Callable[..., FakeRuntimeAPI]


def v2_event(path: str = "/", query: str = "") -> dict[str, Any]:
    event = json.loads((FIXTURES / "aws-events" / "apigw-v2-http-api.json").read_text())
    event.update(rawPath=path, rawQueryString=query, headers={"host": "example.com"}, cookies=[], body=None,
                 isBase64Encoded=False)
    event["requestContext"]["http"].update(method="GET", path=path)
    return event


@pytest.fixture
def start_runtime(tmp_path: Path) -> Iterator[Start]:
    """``start(functions, tag, **env)``: a fake Runtime API and awslambdaric serving ``tag``."""
    running: list[tuple[FakeRuntimeAPI, subprocess.Popen[bytes]]] = []

    def start(functions: list[dict[str, Any]], tag: str, **extra_env: str) -> FakeRuntimeAPI:
        api = FakeRuntimeAPI()
        env = {**os.environ, "AWS_LAMBDA_RUNTIME_API": api.start(), "TOOLKIT_MANIFEST": str(write_app(tmp_path, functions)),
               "TOOLKIT_FUNCTION": tag, "TOOLKIT_APP_ROOT": str(tmp_path), "PYTHONPATH": str(REPO), **extra_env}
        for key in ("TOOLKIT_CALLS_TABLE", "TOOLKIT_STATE_MACHINE_ARN", "TOOLKIT_SECRET_ARNS"):
            env.pop(key, None)
        process = subprocess.Popen([sys.executable, "-m", "awslambdaric", "runtime.lambda_handler.handler"],
                                   env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        running.append((api, process))
        return api

    yield start
    for api, process in running:
        process.kill()
        process.wait(timeout=10)
        api.stop()


def _reply(api: FakeRuntimeAPI, event: dict[str, Any]) -> tuple[str, Posted]:
    request_id = api.invoke(event)
    posted = api.next_posted(POST_WAIT_S)
    assert posted.request_id == request_id, posted
    return posted.kind, posted


@pytest.mark.parametrize("execution_env", ["", "AWS_Lambda_python3.12"])  # the second polls `next` on a thread
def test_fastapi_endpoint_round_trip(start_runtime: Start, execution_env: str) -> None:
    api = start_runtime([function("square", "fastapi_endpoint")], "square", AWS_EXECUTION_ENV=execution_env)
    for x in (7, 8):  # the second event proves the runtime went back to `next` and still answers
        kind, posted = _reply(api, v2_event(query=f"x={x}"))
        assert kind == "response", posted.body
        reply = json.loads(posted.body)
        assert reply["statusCode"] == 200 and json.loads(reply["body"]) == {"square": x * x}
        assert reply["headers"]["content-type"] == "application/json"


def test_lifespan_runs_once_per_environment_under_the_runtime_client(start_runtime: Start) -> None:
    api = start_runtime([function("asgi", "asgi_app")], "asgi")
    bodies = [json.loads(json.loads(_reply(api, v2_event("/state"))[1].body)["body"]) for _ in range(3)]
    assert bodies == [{"model": "loaded-1", "starts": 1}] * 3


def test_worker_task_that_cannot_finish_posts_an_invocation_error(start_runtime: Start) -> None:
    """A worker task must fail the invoke (Step Functions then retries and marks the call FAILED)."""
    api = start_runtime([function("add")], "add")  # no TOOLKIT_CALLS_TABLE: the store cannot open
    kind, posted = _reply(api, {"toolkit_event": "worker_task", "call_id": "fc-abc123", "function": "add"})
    assert kind == "error", posted.body
    error = json.loads(posted.body)
    assert "TOOLKIT_CALLS_TABLE is not set" in error["errorMessage"] and error["errorType"] == "RuntimeError"
    kind, posted = _reply(api, {"toolkit_event": "nope"})  # the environment survived and serves on
    assert kind == "response" and json.loads(posted.body)["statusCode"] == 400

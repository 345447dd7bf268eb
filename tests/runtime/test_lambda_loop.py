"""The image's Lambda entrypoint (``python -m runtime.lambda_loop``) against a fake Runtime API.

Each test runs the real entrypoint as a separate process, as Lambda runs it, polling a fake
Runtime API on loopback (tests/runtime/fake_runtime_api.py) that decodes streamed responses
chunk by chunk.  Apps that must pause wait on gates the test opens (streaming_app.py), so
every "arrived before" below is an ordering the app cannot produce any other way.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_runtime_api import FakeRuntimeAPI
from loopback import free_port
from runtime_support import Collected
from streaming_app import (
    REPO,
    WAIT_S,
    Runtime,
    function,
    function_url_event,
    http_api_event,
    split_prelude,
    start_runtime,
    wait_exit,
    write_app,
)

from runtime.events.streaming import prelude, stream_reply
from runtime.gateway import hash_secret
from toolkit.images.runtime_layer import ENTRYPOINT_SCRIPT

Start = Callable[..., Runtime]
STREAM_HEADERS = {
    "Lambda-Runtime-Function-Response-Mode": "streaming",
    "Transfer-Encoding": "chunked",
    "Content-Type": "application/vnd.awslambda.http-integration-response",
    "Trailer": "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
}


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    running: list[Runtime] = []

    def _start(functions: list[dict[str, Any]], tag: str, *command: str, **env: str) -> Runtime:
        runtime = start_runtime(tmp_path, functions, tag, *command, **env)
        running.append(runtime)
        return runtime

    yield _start
    for runtime in running:
        runtime.stop()


def _streamed(posted: Any) -> None:
    assert posted.kind == "response" and posted.streamed, posted
    assert {k: posted.headers.get(k) for k in STREAM_HEADERS} == STREAM_HEADERS


# -- Function URL events stream ---------------------------------------------------------------------


def test_sse_events_reach_the_runtime_api_as_the_app_produces_them(start: Start) -> None:
    runtime = start([function("sse")], "sse")
    request_id = runtime.api.invoke(function_url_event())
    prelude, _ = split_prelude(runtime.api.next_chunk(WAIT_S))
    assert prelude == {"statusCode": 200, "headers": {"content-type": "text/event-stream; charset=utf-8"}, "cookies": []}
    # the app is held at gate "one": event 1 cannot exist yet, and event 0 is already here
    assert runtime.api.next_chunk(WAIT_S) == b"data: 0\n\n"
    runtime.release("one")
    assert runtime.api.next_chunk(WAIT_S) == b"data: 1\n\n"
    runtime.release("two")
    posted = runtime.api.next_posted(WAIT_S)
    assert posted.request_id == request_id
    _streamed(posted)
    # exact framing: prelude JSON, 8 NUL bytes, then the raw body; one chunk per event
    head = json.dumps(prelude, separators=(",", ":")).encode()
    assert posted.body == head + b"\0" * 8 + b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert [c.data for c in posted.chunks][1:] == [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n"]
    assert posted.trailers == {}


def test_cookies_go_in_the_prelude_not_the_headers(start: Start) -> None:
    runtime = start([function("cookies")], "cookies")
    posted = runtime.reply(function_url_event())
    _streamed(posted)
    prelude, body = split_prelude(posted.body)
    assert prelude["statusCode"] == 200 and json.loads(body) == {"ok": True}
    assert [c.split(";")[0] for c in prelude["cookies"]] == ["a=1", "b=2"] and "HttpOnly" in prelude["cookies"][1]
    assert "set-cookie" not in prelude["headers"] and prelude["headers"]["x-extra"] == "yes"


def test_an_error_mid_stream_ends_it_with_the_error_trailers(start: Start) -> None:
    runtime = start([function("broken")], "broken")
    runtime.api.invoke(function_url_event())
    split_prelude(runtime.api.next_chunk(WAIT_S))
    assert runtime.api.next_chunk(WAIT_S) == b"part one;"  # sent before the failure
    runtime.release("break")
    posted = runtime.api.next_posted(WAIT_S)
    _streamed(posted)
    assert split_prelude(posted.body)[1] == b"part one;"
    assert posted.trailers["Lambda-Runtime-Function-Error-Type"] == "RuntimeError"
    error = json.loads(base64.b64decode(posted.trailers["Lambda-Runtime-Function-Error-Body"]))
    assert error["errorType"] == "RuntimeError" and error["errorMessage"] == "the stream broke"
    assert any("broken_events" in line for line in error["stackTrace"])
    # the environment serves on
    assert runtime.reply(function_url_event()).streamed


def test_request_bodies_and_binary_responses_pass_raw(start: Start) -> None:
    runtime = start([function("asgi", "asgi_app")], "asgi")
    payload = bytes(range(256)) * 8
    posted = runtime.reply(function_url_event("/echo", method="POST", body=payload,
                                              headers={"content-type": "application/octet-stream"}))
    assert split_prelude(posted.body)[1] == payload
    big = split_prelude(runtime.reply(function_url_event("/big")).body)[1]
    assert big == bytes(range(256)) * 4096  # 1 MiB, no base64 anywhere


def test_gateway_refusals_apply_on_the_stream(start: Start) -> None:
    runtime = start([function("square", requires_proxy_auth=True)], "square",
                    TOOLKIT_PROXY_TOKENS=json.dumps({"tk-1": hash_secret("s3cret")}))
    prelude, body = split_prelude(runtime.reply(function_url_event(query="x=5")).body)
    assert prelude["statusCode"] == 401 and b"Toolkit-Key" in body
    authed = function_url_event(query="x=5", headers={"toolkit-key": "tk-1", "toolkit-secret": "s3cret"})
    prelude, body = split_prelude(runtime.reply(authed).body)
    assert prelude["statusCode"] == 200 and json.loads(body) == {"square": 25}
    oversized = function_url_event(query="x=5", headers={"toolkit-key": "tk-1", "toolkit-secret": "s3cret",
                                                         "content-length": "5000000"})
    prelude, body = split_prelude(runtime.reply(oversized).body)
    assert prelude["statusCode"] == 413 and b"5000000 bytes exceeds" in body


def test_buffered_front_doors_still_get_buffered_responses(start: Start) -> None:
    runtime = start([function("square")], "square")
    posted = runtime.reply(http_api_event(query="x=4"))
    assert posted.kind == "response" and not posted.streamed and "Lambda-Runtime-Function-Response-Mode" not in posted.headers
    reply = json.loads(posted.body)
    assert reply["statusCode"] == 200 and json.loads(reply["body"]) == {"square": 16}
    assert posted.headers["Content-Type"] == "application/json"


def test_function_url_can_be_answered_buffered_by_configuration(start: Start) -> None:
    runtime = start([function("square")], "square", TOOLKIT_STREAM_RESPONSES="0")
    posted = runtime.reply(function_url_event(query="x=2"))
    assert not posted.streamed and json.loads(json.loads(posted.body)["body"]) == {"square": 4}


# -- web_server on the stream -----------------------------------------------------------------------


def test_web_server_forwards_upstream_chunks_as_they_come(start: Start) -> None:
    port = free_port()
    runtime = start([function("server", "web_server", port=port)], "server", UPSTREAM_PORT=str(port))
    runtime.api.invoke(function_url_event("/events"))
    prelude, _ = split_prelude(runtime.api.next_chunk(WAIT_S))
    assert prelude["statusCode"] == 200 and prelude["cookies"] == ["s=1"]
    assert prelude["headers"]["content-type"] == "text/event-stream"
    assert "transfer-encoding" not in prelude["headers"]  # hop-by-hop: the stream has its own framing
    assert runtime.api.next_chunk(WAIT_S) == b"data: 0\n\n"  # upstream is held at gate "server-one"
    runtime.release("server-one")
    assert runtime.api.next_chunk(WAIT_S) == b"data: 1\n\n"
    runtime.release("server-two")
    posted = runtime.api.next_posted(WAIT_S)
    assert split_prelude(posted.body)[1] == b"data: 0\n\ndata: 1\n\ndata: end\n\n" and posted.trailers == {}
    for _ in range(2):  # the kept upstream connection is reusable after a Content-Length body
        prelude, body = split_prelude(runtime.reply(function_url_event("/big")).body)
        assert body == bytes(range(256)) * 4096 and prelude["headers"]["content-length"] == str(len(body))


# -- the framing, in-process -----------------------------------------------------------------------


def test_prelude_joins_repeated_headers_and_lifts_cookies() -> None:
    head = prelude(201, [(b"X-A", b"1"), (b"x-a", b"2"), (b"Set-Cookie", b"k=v"), (b"content-type", b"text/plain")])
    assert head == b'{"statusCode":201,"headers":{"x-a":"1,2","content-type":"text/plain"},"cookies":["k=v"]}' + bytes(8)


def test_a_buffered_reply_streams_with_its_body_decoded() -> None:
    sink = Collected()
    stream_reply({"statusCode": 404, "headers": {"content-type": "image/png"}, "cookies": ["c=1"],
                  "body": base64.b64encode(b"\x89PNG").decode(), "isBase64Encoded": True}, lambda: sink)
    meta, body = split_prelude(sink.data)
    assert (meta, body, sink.closed) == ({"statusCode": 404, "headers": {"content-type": "image/png"},
                                         "cookies": ["c=1"]}, b"\x89PNG", True)


# -- errors, and the loop going on ------------------------------------------------------------------


def test_malformed_events_get_an_error_reply_and_the_loop_continues(start: Start) -> None:
    runtime = start([function("square")], "square")
    posted = runtime.reply(None, raw=b"{not json")
    assert posted.kind == "error" and posted.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.UnmarshalError"
    assert json.loads(posted.body)["errorType"] == "Runtime.UnmarshalError"
    malformed = function_url_event()
    malformed["headers"] = ["not", "a", "mapping"]
    prelude, body = split_prelude(runtime.reply(malformed).body)
    assert prelude["statusCode"] == 400 and body.startswith(b"Malformed function_url event")
    unknown = runtime.reply({"hello": "world"})
    assert unknown.kind == "response" and json.loads(unknown.body)["statusCode"] == 400
    prelude, body = split_prelude(runtime.reply(function_url_event(query="x=9")).body)
    assert prelude["statusCode"] == 200 and json.loads(body) == {"square": 81}


def test_many_invocations_share_one_keep_alive_connection(start: Start) -> None:
    runtime = start([function("square")], "square")
    for x in range(40):
        posted = runtime.reply(http_api_event(query=f"x={x}"))
        assert json.loads(json.loads(posted.body)["body"]) == {"square": x * x}
    assert len(runtime.api.peers) >= 80 and len({peer for _, peer in runtime.api.peers}) == 1


def test_a_streamed_response_closes_its_connection_as_aws_requires(start: Start) -> None:
    """The guide: a streaming runtime must close the connection once the response is written; the
    loop then reconnects for `next`.  Buffered answers keep theirs."""
    runtime = start([function("square")], "square")
    for x in range(10):
        event = function_url_event(query=f"x={x}") if x % 2 else http_api_event(query=f"x={x}")
        posted = runtime.reply(event)
        body = split_prelude(posted.body)[1] if x % 2 else json.loads(posted.body)["body"]
        assert json.loads(body) == {"square": x * x}
    runtime.reply(http_api_event(query="x=1"))  # its `next` came after the last stream closed
    connections: list[list[str]] = []
    for request, peer in runtime.api.peers:
        if not connections or connections[-1][0] != peer:
            connections.append([peer])
        connections[-1].append(request.split(" ")[0] + " " + request.rsplit("/", 1)[-1])
    assert len(connections) == 6  # one to start, one more after each of the 5 streamed responses
    assert len({c[0] for c in connections}) == 6
    for connection in connections[:-1]:  # buffered, then streamed: the stream's POST is the last
        assert connection[1:] == ["GET next", "POST response", "GET next", "POST response"]


def test_worker_task_that_cannot_finish_posts_an_invocation_error(start: Start) -> None:
    runtime = start([function("square", "function")], "square")  # no TOOLKIT_CALLS_TABLE: no store to open
    posted = runtime.reply({"toolkit_event": "worker_task", "call_id": "fc-abc123", "function": "square"})
    assert posted.kind == "error"
    error = json.loads(posted.body)
    assert set(error) == {"errorMessage", "errorType", "stackTrace"}
    assert "TOOLKIT_CALLS_TABLE is not set" in error["errorMessage"] and error["errorType"] == "RuntimeError"
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "RuntimeError"
    assert json.loads(runtime.reply({"toolkit_event": "nope"}).body)["statusCode"] == 400


def test_a_plain_handler_gets_the_context_and_the_trace_id(start: Start) -> None:
    runtime = start([function("square")], "square", "context_handler.handler")
    first = json.loads(runtime.reply({"n": 1}).body)
    second_id = runtime.api.invoke({"n": 2})
    second = json.loads(runtime.api.next_posted(WAIT_S).body)
    assert first["event"] == {"n": 1} and second["request_id"] == second_id != first["request_id"]
    assert 0 < first["remaining"] <= runtime.api.deadline_s * 1000
    assert (first["function_name"], first["memory"], first["log_group"]) == ("toolkit-demo", "512", "/aws/lambda/toolkit-demo")
    assert first["arn"].endswith(":function:toolkit-demo")
    assert first["trace"].startswith("Root=1-") and first["trace"] != second["trace"]


def test_a_raising_plain_handler_posts_the_documented_error_shape(start: Start) -> None:
    runtime = start([function("square")], "square", "context_handler.explode")
    posted = runtime.reply({"n": 1})
    error = json.loads(posted.body)
    assert posted.kind == "error" and error["errorType"] == "ValueError" and error["errorMessage"] == "no good: {'n': 1}"
    assert any("explode" in line for line in error["stackTrace"])
    assert runtime.reply({"n": 2}).kind == "error"  # and the loop goes on


def test_a_huge_error_message_is_posted_cut_short(start: Start) -> None:
    runtime = start([function("square")], "square", "context_handler.explode")
    posted = runtime.reply({"blob": "x" * 200_000})
    message = json.loads(posted.body)["errorMessage"]
    assert message.startswith("no good: {'blob': 'xxx") and message.endswith(" more characters)")
    assert len(message) < 5000, len(message)


@pytest.mark.parametrize(("handler", "error_type"), [
    ("broken_module.handler", "RuntimeError"),
    ("no_such_module.handler", "Runtime.ImportModuleError"),
    ("context_handler.missing", "Runtime.HandlerNotFound"),
])
def test_a_handler_that_cannot_load_is_posted_to_init_error(start: Start, handler: str, error_type: str) -> None:
    runtime = start([function("square")], "square", handler)
    posted = runtime.api.next_posted(WAIT_S)
    assert posted.kind == "init_error" and posted.headers["Lambda-Runtime-Function-Error-Type"] == error_type
    assert json.loads(posted.body)["errorType"] == error_type
    assert wait_exit(runtime.process) == 1  # Lambda starts a fresh environment after an init error


# -- the budget on a streaming door -----------------------------------------------------------------


def test_a_request_over_budget_gets_303_and_finishes_after_the_response(start: Start, aws: Any) -> None:
    runtime = start([function("slow", timeout=120)], "slow", TOOLKIT_STREAM_BUDGET_S="0.5",
                    TOOLKIT_CALLS_TABLE=aws.table, TOOLKIT_PAYLOAD_BUCKET=aws.bucket)
    runtime.api.invoke(function_url_event(query="q=1"))
    see_other = runtime.api.next_posted(WAIT_S)  # the app is still held at gate "slow"
    prelude, body = split_prelude(see_other.body)
    location = prelude["headers"]["location"]
    assert prelude["statusCode"] == 303 and location.startswith("/?q=1&__toolkit_call_id=fc-")
    runtime.release("slow")  # the same invocation finishes the work and records it
    result = runtime.reply(function_url_event(query=location.partition("?")[2]))
    prelude, body = split_prelude(result.body)
    assert prelude["statusCode"] == 200 and json.loads(body) == {"finally": True}


def test_a_web_server_request_over_budget_gets_303_and_finishes_after_the_response(start: Start,
                                                                                    aws: Any) -> None:
    port = free_port()
    runtime = start([function("server", "web_server", port=port, timeout=120)], "server", UPSTREAM_PORT=str(port),
                    TOOLKIT_STREAM_BUDGET_S="0.5", TOOLKIT_CALLS_TABLE=aws.table, TOOLKIT_PAYLOAD_BUCKET=aws.bucket)
    for gate in ("server-one", "server-two"):
        runtime.release(gate)
    runtime.api.invoke(function_url_event("/slow"))
    prelude, _ = split_prelude(runtime.api.next_posted(WAIT_S).body)  # upstream held at "server-slow"
    assert prelude["statusCode"] == 303
    runtime.release("server-slow")
    result = runtime.reply(function_url_event("/slow", query=prelude["headers"]["location"].partition("?")[2]))
    prelude, body = split_prelude(result.body)
    assert prelude["statusCode"] == 200 and body == b"data: 0\n\ndata: 1\n\ndata: end\n\n"


# -- the image's entrypoint script ------------------------------------------------------------------


def test_the_image_entrypoint_runs_this_loop_in_lambda_mode(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)  # the image's python3: here, this interpreter
    script = tmp_path / "toolkit-entrypoint"
    script.write_text(ENTRYPOINT_SCRIPT)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    api = FakeRuntimeAPI()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}, "PATH": f"{bin_dir}:/usr/bin:/bin",
           "AWS_LAMBDA_RUNTIME_API": api.start(), "TOOLKIT_FUNCTION": "square", "TOOLKIT_APP_ROOT": str(tmp_path),
           "TOOLKIT_MANIFEST": str(write_app(tmp_path, [function("square")])), "PYTHONPATH": str(REPO)}
    runtime = Runtime(api, subprocess.Popen([str(script)], env=env, cwd=tmp_path, stderr=subprocess.PIPE), tmp_path)
    try:
        prelude, body = split_prelude(runtime.reply(function_url_event(query="x=6")).body)
        assert prelude["statusCode"] == 200 and json.loads(body) == {"square": 36}
    finally:
        runtime.stop()

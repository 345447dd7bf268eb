"""Hostile Lambda events against the real handler: what an attacker can put in the event's JSON.

A Lambda event is JSON, not a parsed HTTP request, so nothing upstream has checked its header
names, values, types or sizes.  These tests send such events through
`runtime.lambda_handler.handler` (the ``web_server`` direct path to a real server process, and
the ASGI path into a real app) and check that each is refused with a 400 that names the
problem, and that nothing one event leaves behind changes another's answer.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from deployed_app import deploy_in_process
from event_mutations import DELETE, field_paths, mutated
from runtime_support import serve_uvicorn
from state_machines import pass_state_machine
from web_server_lambda import ECHO_SERVER, WebServerEnv, echo, proxy, sample

from runtime import lambda_handler
from runtime.adapters.asgi_app import build_wsgi_app
from runtime.adapters.base import WebKind, WebSpec
from runtime.callstore import SQLiteCallStore
from runtime.events import EventSource
from runtime.events.handlers import percent_encoded
from runtime.gateway import (
    Gateway,
    GatewayPolicy,
    HTTPRequestRecord,
    StaticTokens,
    ThreadCalls,
    asgi_runner,
    hash_secret,
    result_location,
)
from runtime.serialization import deserialize

# -- item 1: no request is ever answered with another's response ----------------------------------

BAD_HEADERS = [
    ({"x-bad": "a\nb"}, "control character"),
    ({"x-bad": "a\r\nx-injected: 1"}, "control character"),
    ({"x-bad": "a\x00b"}, "control character"),
    ({"x-bad": "a\n b"}, "control character"),  # obs-fold: http.client itself would send it
    ({"bad name": "v"}, "Invalid header name 'bad name'"),
    ({"x:y": "v"}, "Invalid header name 'x:y'"),
    ({"caf\u00e9": "v"}, "Invalid header name 'caf\u00e9'"),
    ({"": "v"}, "Invalid header name ''"),
]


@pytest.mark.parametrize("source", [EventSource.HTTP_V2, EventSource.REST_V1, EventSource.ALB])
@pytest.mark.parametrize(("bad", "named"), BAD_HEADERS)
def test_invalid_header_is_refused_and_the_next_event_gets_its_own_response(
        web_server_env: WebServerEnv, source: EventSource, bad: dict[str, str], named: str) -> None:
    web_server_env()
    first = sample(source, "/first")
    if "multiValueHeaders" in first:
        first["multiValueHeaders"].update({k: [v] for k, v in bad.items()})
    else:
        first["headers"].update(bad)
    refused = lambda_handler.handler(first, None)
    assert refused["statusCode"] == 400 and named in refused["body"], refused
    # the same execution environment, the next user's event: answered with its own response
    assert echo(lambda_handler.handler(sample(source, "/second"), None))["target"].startswith("/second")


def test_a_request_that_fails_half_written_never_leaves_bytes_for_the_next(web_server_env: WebServerEnv) -> None:
    # the class behind item 1, below the gateway: the proxy itself, given a request http.client
    # refuses after the request line went into its buffer, must discard that connection
    web_server_env()
    scope, _ = lambda_handler.init().bridge.request(sample(EventSource.HTTP_V2, "/first"), None)  # type: ignore[union-attr]
    scope["headers"] = [*scope["headers"], (b"x-bad", b"a\nb")]
    with pytest.raises(ValueError, match="Invalid header value"):
        proxy().open(scope, b"")
    good, _ = lambda_handler.init().bridge.request(sample(EventSource.HTTP_V2, "/second"), None)  # type: ignore[union-attr]
    status, _, body = proxy().forward(good, b"")
    assert status == 200 and json.loads(body)["target"].startswith("/second")


@pytest.mark.parametrize("method", ["GET /admin", "GET\r\nX-Injected: 1\r\n", "G\u00c9T"])
def test_a_method_that_would_rewrite_the_request_line_never_reaches_the_server(web_server_env: WebServerEnv,
                                                                                method: str) -> None:
    web_server_env()
    event = sample(EventSource.HTTP_V2, "/first")
    event["requestContext"]["http"]["method"] = method
    refused = lambda_handler.handler(event, None)
    assert refused["statusCode"] == 400 and "requestContext.http.method must be an HTTP method" in refused["body"]
    assert echo(lambda_handler.handler(sample(EventSource.HTTP_V2, "/second"), None))["target"].startswith("/second")


SLOW_BODY_SERVER = ECHO_SERVER.replace("    do_GET = do_POST = do_PUT = do_HEAD = _reply", '''
    def do_GET(self):
        if not self.path.startswith("/slow"):
            return self._reply()
        self.send_response(200)
        self.send_header("content-length", "10")
        self.end_headers()
        self.wfile.write(b"01234")
        self.wfile.flush()
        import time
        time.sleep(2)  # the rest comes later: the socket has nothing to read in between
        self.wfile.write(b"56789")

    do_POST = do_PUT = do_HEAD = _reply''')


def test_a_response_read_only_in_part_never_answers_the_next_request(web_server_env: WebServerEnv,
                                                                     tmp_path: Path) -> None:
    # a reader that gives up on a response (a streaming client gone) leaves the rest of it on the
    # kept connection; the next request must get a connection of its own, and its own answer
    assert "/slow" in SLOW_BODY_SERVER
    web_server_env()
    (tmp_path / "echo_server.py").write_text(SLOW_BODY_SERVER)  # read when the server starts, at init
    bridge = lambda_handler.init().bridge
    assert bridge is not None
    slow, _ = bridge.request(sample(EventSource.FUNCTION_URL, "/slow"), None)
    response = proxy().open(slow, b"")
    assert response.read1(5) == b"01234"  # and then no more is read
    good, _ = bridge.request(sample(EventSource.FUNCTION_URL, "/second"), None)
    status, _, body = proxy().forward(good, b"")
    assert status == 200 and json.loads(body)["target"] == "/second"


def test_valid_unusual_headers_still_pass(web_server_env: WebServerEnv) -> None:
    web_server_env()
    event = sample(EventSource.HTTP_V2)
    event["headers"].update({"x-utf8": "caf\u00e9 \u2713", "x-tab": "a\tb", "x-token!#$%&'*+-.^_`|~": "1"})
    seen = echo(lambda_handler.handler(copy.deepcopy(event), None))
    names = {k.lower() for k, _ in seen["headers"]}
    assert {"x-utf8", "x-tab", "x-token!#$%&'*+-.^_`|~"} <= names


# -- a Lambda environment for the ASGI kinds ---------------------------------------------------------

HOSTILE_APP = '''

def flask_body():
    from flask import Flask, request

    web = Flask(__name__)

    @web.route("/", methods=["POST", "PUT"])
    def length():
        return {"length": len(request.get_data()), "content_length": request.content_length}

    return web


def headers_seen():
    import json

    async def app(scope, receive, send):
        names = sorted(bytes(k).decode("latin-1").lower() for k, _ in scope["headers"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(names).encode()})

    return app


def scope_seen():
    import json

    async def app(scope, receive, send):
        seen = {"path": scope["path"], "raw_path": scope["raw_path"].decode("latin-1")}
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(seen).encode()})

    return app
'''

LambdaEnv = Callable[..., None]


@pytest.fixture
def lambda_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaEnv]:
    """Deploy one function of the user app (deployed_app's plus `HOSTILE_APP`) as the handler sees it."""

    def deploy(tag: str, kind: str, **options: Any) -> None:
        deploy_in_process(tmp_path, monkeypatch, tag, kind, HOSTILE_APP, **options)

    yield deploy
    lambda_handler.shutdown()


def v2_event(path: str = "/", query: str = "", method: str = "GET", body: bytes | None = None,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An HTTP API event with exactly these headers (the sample's own ones dropped)."""
    event = sample(EventSource.HTTP_V2)
    event.update(rawPath=path, rawQueryString=query, headers=headers or {}, cookies=[])
    event["requestContext"]["http"].update(method=method, path=path)
    event["body"] = base64.b64encode(body).decode() if body is not None else None
    event["isBase64Encoded"] = body is not None
    return event


# -- item 6: a WSGI app gets the whole body, and the body limit holds without a Content-Length --------

def test_lambda_event_without_content_length_reaches_flask_whole(lambda_env: LambdaEnv) -> None:
    lambda_env("flask_body", "wsgi_app", web={"method": "POST"})
    reply = lambda_handler.handler(v2_event(method="POST", body=b"z" * 5000), None)  # no content-length header
    assert reply["statusCode"] == 200, reply
    assert json.loads(reply["body"]) == {"length": 5000, "content_length": 5000}


def flask_factory() -> Any:
    from flask import Flask, request

    web = Flask(__name__)

    @web.route("/", methods=["POST"])
    def length() -> dict[str, Any]:
        return {"length": len(request.get_data())}

    return web


@pytest.fixture
def wsgi_behind_gateway() -> Iterator[str]:
    """The ECS shape: uvicorn -> `Gateway` (100 kB body limit) -> the wsgi_app adapter -> Flask."""
    app = build_wsgi_app(flask_factory, WebSpec(WebKind.WSGI_APP, method="POST"))
    policy = GatewayPolicy(function="flask", max_body_bytes=100_000, served_by="ecs")
    yield from serve_uvicorn(Gateway(app, policy))


def test_chunked_upload_to_wsgi_behind_the_gateway_is_whole_or_413(wsgi_behind_gateway: str) -> None:
    def pieces(count: int) -> Iterator[bytes]:
        yield from (b"c" * 10_000 for _ in range(count))

    with httpx.Client(base_url=f"http://{wsgi_behind_gateway}", timeout=30) as http:
        assert http.post("/", content=pieces(5)).json() == {"length": 50_000}  # chunked: no Content-Length
        refused = http.post("/", content=pieces(100))
    assert refused.status_code == 413 and "100000 byte limit on the ecs backend" in refused.text


# -- item 7: the 303's Location never names another origin ----------------------------------------------

HOSTILE_PATHS = ["//evil.example/steal", "///evil.example/steal", "https://evil.example/steal",
                 "/\\evil.example/steal"]


def assert_same_origin(location: str) -> None:
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert urlsplit(location).netloc == "" and urlsplit(location).scheme == "", location
    assert "__toolkit_call_id=fc-" in location


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_lambda_303_stays_on_this_origin(lambda_env: LambdaEnv, aws: Any, monkeypatch: pytest.MonkeyPatch,
                                         path: str) -> None:
    monkeypatch.setenv("TOOLKIT_STATE_MACHINE_ARN", pass_state_machine("sm"))
    monkeypatch.setenv("TOOLKIT_REQUEST_BUDGET_S", "0.2")
    lambda_env("square", "fastapi_endpoint", timeout=600)  # over the budget: detached up front
    reply = lambda_handler.handler(v2_event(path=path, query="x=9"), None)
    assert reply["statusCode"] == 303, reply
    assert_same_origin(reply["headers"]["location"])


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_result_location_is_an_absolute_path(path: str) -> None:
    request = HTTPRequestRecord("GET", path, path.encode(), b"x=1", [])
    assert_same_origin(result_location(request, "fc-0123456789abcdef0123456789"))
    with_root = HTTPRequestRecord("GET", path, path.encode(), b"", [], root_path="/prod")
    assert result_location(with_root, "fc-0123456789abcdef0123456789").startswith("/prod/")


# -- degraded: user code never sees the proxy-auth secret -------------------------------------------------

CREDENTIALS = {"Toolkit-Key": "tk-1", "Toolkit-Secret": "s3cret"}


def test_proxy_auth_secret_is_stripped_before_the_app(lambda_env: LambdaEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_PROXY_TOKENS", json.dumps({"tk-1": hash_secret("s3cret")}))
    lambda_env("headers_seen", "asgi_app", web={"requires_proxy_auth": True})
    reply = lambda_handler.handler(v2_event(headers={**CREDENTIALS, "x-other": "1"}), None)
    assert reply["statusCode"] == 200, reply
    seen = json.loads(reply["body"])
    assert "toolkit-secret" not in seen and {"toolkit-key", "x-other"} <= set(seen)


def test_proxy_auth_secret_is_not_forwarded_to_a_web_server(web_server_env: WebServerEnv,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_PROXY_TOKENS", json.dumps({"tk-1": hash_secret("s3cret")}))
    web_server_env(requires_proxy_auth=True, method="POST")
    event = sample(EventSource.HTTP_V2)
    event["headers"].update(CREDENTIALS)
    names = {k.lower() for k, _ in echo(lambda_handler.handler(event, None))["headers"]}
    assert "toolkit-secret" not in names and "toolkit-key" in names


# -- degraded: malformed events get a 400 naming the field, cheaply -------------------------------------

SOURCES = [EventSource.REST_V1, EventSource.HTTP_V2, EventSource.ALB, EventSource.FUNCTION_URL]
MULTI_VALUE = [EventSource.REST_V1, EventSource.ALB]
PAYLOAD_V2 = [EventSource.HTTP_V2, EventSource.FUNCTION_URL]
# (sources, where, wrong value, the field the 400 names)
WRONG_TYPES: list[tuple[list[EventSource], tuple[str, ...], Any, str]] = [
    (SOURCES, ("headers",), ["host", "x"], "headers"),
    (SOURCES, ("headers",), "host: x", "headers"),
    (SOURCES, ("headers", "x-num"), 7, "headers"),
    (SOURCES, ("headers", "x-obj"), {"a": 1}, "headers"),
    (SOURCES, ("body",), {"json": "object"}, "body"),
    (SOURCES, ("body",), 12, "body"),
    (SOURCES, ("isBase64Encoded",), "yes", "isBase64Encoded"),
    (SOURCES, ("queryStringParameters",), ["a=1"], "queryStringParameters"),
    (SOURCES, ("queryStringParameters", "n"), 1, "queryStringParameters"),
    (MULTI_VALUE, ("multiValueHeaders",), "x", "multiValueHeaders"),
    (MULTI_VALUE, ("multiValueHeaders", "x-list"), "not a list", "multiValueHeaders"),
    (MULTI_VALUE, ("multiValueHeaders", "x-list"), [1, 2], "multiValueHeaders"),
    (MULTI_VALUE, ("multiValueQueryStringParameters", "q"), "v", "multiValueQueryStringParameters"),
    (MULTI_VALUE, ("httpMethod",), ["GET"], "httpMethod"),
    (MULTI_VALUE, ("httpMethod",), "GET /admin", "httpMethod"),
    (MULTI_VALUE, ("path",), 5, "path"),
    ([EventSource.REST_V1], ("requestContext", "identity"), "me", "requestContext.identity"),
    ([EventSource.REST_V1], ("requestContext", "identity", "sourceIp"), [1], "requestContext.identity.sourceIp"),
    (PAYLOAD_V2, ("requestContext", "http", "method"), [], "requestContext.http.method"),
    (PAYLOAD_V2, ("requestContext", "http", "method"), None, "requestContext.http.method"),
    (PAYLOAD_V2, ("requestContext", "http", "method"), "GET /admin", "requestContext.http.method"),
    (PAYLOAD_V2, ("requestContext", "http", "sourceIp"), 1, "requestContext.http.sourceIp"),
    (PAYLOAD_V2, ("rawPath",), ["/"], "rawPath"),
    (PAYLOAD_V2, ("rawQueryString",), {"a": "1"}, "rawQueryString"),
    (PAYLOAD_V2, ("cookies",), "a=1", "cookies"),
    (PAYLOAD_V2, ("cookies",), [1], "cookies"),
]
CASES = [pytest.param(source, where, value, named, id=f"{source.value}-{'.'.join(where)}-{type(value).__name__}")
         for sources, where, value, named in WRONG_TYPES for source in sources]


def with_value(event: dict[str, Any], where: tuple[str, ...], value: Any) -> dict[str, Any]:
    target = event
    for key in where[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}  # e.g. ALB samples carry only one of headers / multiValueHeaders
        target = target[key]
    target[where[-1]] = value
    return event


@pytest.fixture
def asgi_lambda(lambda_env: LambdaEnv) -> None:
    lambda_env("asgi", "asgi_app")  # deployed_app's FastAPI app: GET /state


@pytest.mark.parametrize(("source", "where", "value", "named"), CASES)
def test_wrong_typed_event_field_gets_400_naming_it(asgi_lambda: None, source: EventSource, where: tuple[str, ...],
                                                    value: Any, named: str) -> None:
    event = with_value(sample(source, "/state"), where, value)
    reply = lambda_handler.handler(event, None)
    assert reply["statusCode"] == 400, reply
    assert f"Malformed {source.value} event" in reply["body"] and f"{named} must be" in reply["body"], reply["body"]
    good = sample(source, "/state")
    if source in MULTI_VALUE:
        good["httpMethod"] = "GET"
    else:
        good["requestContext"]["http"]["method"] = "GET"
    assert lambda_handler.handler(good, None)["statusCode"] == 200  # the environment is unharmed


class NoIteration(str):
    """A string that fails the test if anything iterates it (as parsing a header list would)."""

    iterated = 0

    def __iter__(self) -> Iterator[str]:
        NoIteration.iterated += 1
        raise AssertionError("a string in place of a list was iterated")


@pytest.mark.parametrize("source", MULTI_VALUE)
@pytest.mark.parametrize("field", ["multiValueHeaders", "multiValueQueryStringParameters"])
def test_a_megabyte_string_in_place_of_a_list_is_refused_before_it_is_iterated(
        asgi_lambda: None, source: EventSource, field: str) -> None:
    NoIteration.iterated = 0
    event = sample(source, "/state")
    event[field] = {**(event.get(field) or {}), "x-big": NoIteration("a" * 1_000_000)}
    reply = lambda_handler.handler(event, None)
    assert reply["statusCode"] == 400 and f"{field} must be an object of arrays of strings" in reply["body"]
    assert NoIteration.iterated == 0


def test_raw_non_ascii_query_reaches_a_wsgi_app_percent_encoded(lambda_env: LambdaEnv) -> None:
    lambda_env("flask_body", "wsgi_app", web={"method": "POST"})
    event = v2_event(method="POST", query="q=caf\u00e9 au lait", body=b"abc")
    reply = lambda_handler.handler(event, None)
    assert reply["statusCode"] == 200, reply  # a2wsgi decodes QUERY_STRING as ASCII: this was a 500
    lambda_env("headers_seen", "asgi_app")
    assert lambda_handler.handler(v2_event(query="q=caf\u00e9 au lait"), None)["statusCode"] == 200


def test_query_string_is_percent_encoded_ascii() -> None:
    assert percent_encoded("q=caf\u00e9 au\tlait&x=%41".encode()) == b"q=caf%C3%A9%20au%09lait&x=%41"
    assert percent_encoded(b"a=1&b=%20") == b"a=1&b=%20"


# -- degraded: percent-encoded paths, per source --------------------------------------------------------
# Function URLs, REST APIs and ALB pass the path as the client encoded it; HTTP APIs pass rawPath
# already decoded (live captures: hotsock/voker#8; fastify/aws-lambda-fastify#169 shows /a%2Fb
# arriving as /a/b), so decoding it again would turn a literal "%20" the client sent (as %2520)
# into a space.  Each source must give the app the decoded path once, and the user's server the
# client's own encoded target.

CLIENT_PATH = "/files/a%20b/caf%C3%A9%2520x"  # as the client sent it


def event_for_client_path(source: EventSource) -> dict[str, Any]:
    path = unquote(CLIENT_PATH) if source is EventSource.HTTP_V2 else CLIENT_PATH
    return sample(source, path)


@pytest.mark.parametrize("source", SOURCES)
def test_web_server_gets_the_clients_encoded_target_from_every_source(web_server_env: WebServerEnv,
                                                                       source: EventSource) -> None:
    web_server_env()
    event = event_for_client_path(source)
    for key in ("queryStringParameters", "multiValueQueryStringParameters"):
        event.pop(key, None)
    event["rawQueryString"] = ""
    assert echo(lambda_handler.handler(event, None))["target"] == CLIENT_PATH


@pytest.mark.parametrize("source", SOURCES)
def test_asgi_scope_has_the_decoded_path_and_the_encoded_raw_path(lambda_env: LambdaEnv, source: EventSource) -> None:
    lambda_env("scope_seen", "asgi_app")
    reply = lambda_handler.handler(event_for_client_path(source), None)
    seen = json.loads(reply["body"])
    assert seen == {"path": "/files/a b/caf\u00e9%20x", "raw_path": CLIENT_PATH}


def test_a_detached_request_is_stored_without_the_secret(tmp_path: Path) -> None:
    # the ECS shape with a call path: a request over the budget is stored as a call payload
    # (DynamoDB on AWS); the secret must not be in it
    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(0.6)
        names = json.dumps(sorted(bytes(k).decode().lower() for k, _ in scope["headers"])).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": names})

    store = SQLiteCallStore(tmp_path / "calls.db")
    policy = GatewayPolicy(function="slow", timeout=600, budget=0.1, requires_proxy_auth=True,
                           tokens=StaticTokens({"tk-1": hash_secret("s3cret")}))
    for address in serve_uvicorn(Gateway(slow, policy, ThreadCalls(store, "demo", asgi_runner(slow)))):
        with httpx.Client(base_url=f"http://{address}", headers=CREDENTIALS, timeout=30) as http:
            first = http.get("/")
            assert first.status_code == 303, first.text
            call_id = parse_qs(urlsplit(first.headers["location"]).query)["__toolkit_call_id"][0]
            payload = store.get_payload(call_id)
            assert payload is not None and b"s3cret" not in payload
            stored = deserialize(payload)
            assert isinstance(stored, HTTPRequestRecord)
            assert b"toolkit-key" in dict(stored.headers) and b"toolkit-secret" not in dict(stored.headers)


# -- every field of every sample, replaced by every wrong type: never a 500 ------------------------------

FUZZ_VALUES: list[Any] = [None, 1, 1.5, True, "", "G E T", "\x00\r\n", "%zz%", "caf\u00e9", [], ["a"], [1, 2], {},
                          {"a": 1}, {"a": [1]}, {"a": None}, {"a": {"b": 1}}]


@pytest.mark.parametrize(("tag", "kind"), [("square", "fastapi_endpoint"), ("wsgi", "wsgi_app")])
def test_no_mutated_sample_event_gets_a_500(lambda_env: LambdaEnv, tag: str, kind: str) -> None:
    lambda_env(tag, kind)
    failures = []
    for source in SOURCES:
        base = sample(source)
        for path in field_paths(base):
            for value in [*FUZZ_VALUES, DELETE]:
                reply = lambda_handler.handler(mutated(base, path, value), None)
                if reply["statusCode"] >= 500:
                    failures.append((source.value, path, value, reply["statusCode"], str(reply["body"])[:120]))
    assert failures == []

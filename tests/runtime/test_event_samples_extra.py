"""AWS's own event samples beyond tests/fixtures/aws-events, and events a function must refuse.

The samples in tests/fixtures/aws-events-extra are byte-exact copies from aws/aws-lambda-go
(Apache-2.0; see that folder's README).  HTTP samples go through `LambdaBridge` into `echo_app`
(the scope the app is given, the response shape the source needs) and through the deployed
handler, `runtime.lambda_handler.handler`; events that are not HTTP requests for this function
(WebSocket routes, S3/SQS/EventBridge records, a console test event) must get a clear refusal:
a well-formed reply naming what arrived and what to do, one log line, and no traceback.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgi_samples import PNG_BYTES, echo_app
from deployed_app import deploy_in_process
from event_mutations import DELETE, field_paths, mutated
from runtime_support import FIXTURES, Collected

from runtime import lambda_handler
from runtime.events import EventSource, LambdaBridge, classify
from runtime.events.streaming import PRELUDE_DELIMITER

EXTRA = FIXTURES / "aws-events-extra"


def extra(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EXTRA / name).read_text()))


def echoed(event: dict[str, Any]) -> dict[str, Any]:
    response = LambdaBridge(echo_app)(event, None)
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])


def header_values(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k == name]


# -- HTTP samples: the scope the app is given -----------------------------------------------------

HTTP_SAMPLES = {
    # file: (source, method, path, query, client, body)
    "apigw-request.json": (EventSource.REST_V1, "POST", "/hello/world", "name=me", "192.168.196.186",
                           b'{\r\n\t"a": 1\r\n}'),
    "apigw-v2-request.json": (EventSource.HTTP_V2, "GET", "/my/path",
                              "parameter1=value1&parameter1=value2&parameter2=value", "IP", b'{\r\n\t"a": 1\r\n}'),
    "apigw-v2-request-no-authorizer.json": (EventSource.HTTP_V2, "GET", "/", "", "1.2.3.4", b""),
    "apigw-v2-request-iam.json": (EventSource.HTTP_V2, "GET", "/my/path",
                                  "parameter1=value1&parameter1=value2&parameter2=value", "IP", b'{\r\n\t"a": 1\r\n}'),
    "apigw-v2-request-lambda-authorizer.json": (EventSource.HTTP_V2, "GET", "/my/path",
                                                "parameter1=value1&parameter1=value2&parameter2=value", "IP",
                                                b'{\r\n\t"a": 1\r\n}'),
    "lambda-urls-request.json": (EventSource.FUNCTION_URL, "POST", "/my/path",
                                 "parameter1=value1&parameter1=value2&parameter2=value", "123.123.123.123",
                                 b"Hello from client!"),
    "alb-lambda-target-request-headers-only.json": (EventSource.ALB, "GET", "/", "key=hello", "25.12.198.67", b""),
    "alb-lambda-target-request-multivalue-headers.json": (EventSource.ALB, "GET", "/", "key=hello",
                                                          "72.21.198.67", b""),
}


@pytest.mark.parametrize("name", list(HTTP_SAMPLES))
def test_http_sample_becomes_the_right_scope(name: str) -> None:
    source, method, path, query, client, body = HTTP_SAMPLES[name]
    event = extra(name)
    assert classify(event) is source
    echo = echoed(event)
    assert (echo["method"], echo["path"], echo["raw_path"], echo["query_string"]) == (method, path, path, query)
    assert echo["client"] == [client, 0]
    assert base64.b64decode(echo["body_b64"]) == body


def test_v2_cookies_and_headers_from_the_http_api_sample() -> None:
    echo = echoed(extra("apigw-v2-request.json"))
    assert header_values(echo, "cookie") == ["cookie1; cookie2"]
    assert header_values(echo, "header1") == ["value1"]  # names arrive lower-cased, as HTTP/2 and ASGI want


def test_rest_sample_headers_are_lower_cased_once_each() -> None:
    echo = echoed(extra("apigw-request.json"))
    names = [k for k, _ in echo["headers"]]
    assert len(names) == len(set(names)) == 19  # headers and multiValueHeaders carry the same 19
    assert header_values(echo, "x-forwarded-for") == ["54.240.196.186, 54.182.214.83"]


@pytest.mark.parametrize("name", ["alb-lambda-target-request-headers-only.json",
                                  "alb-lambda-target-request-multivalue-headers.json"])
def test_alb_response_carries_a_status_description(name: str) -> None:
    event = extra(name)
    event["path"] = "/cookies"
    response = LambdaBridge(echo_app)(event, None)
    assert response["statusCode"] == 201 and response["statusDescription"] == "201 Created"
    multi = "multiValueHeaders" in event
    assert ("multiValueHeaders" in response) is multi and ("headers" in response) is not multi


def test_alb_health_check_reaches_the_app() -> None:
    event = extra("alb-lambda-target-request-headers-only.json")
    event["headers"] = {"user-agent": "ELB-HealthChecker/2.0"}
    event.pop("queryStringParameters")
    echo = echoed(event)
    assert (echo["method"], echo["path"], echo["query_string"], echo["body_b64"]) == ("GET", "/", "", "")
    assert echo["client"] == [None, 0]  # no X-Forwarded-For: no client, rather than a guess


def test_v2_event_without_optional_fields_is_served() -> None:
    event = extra("apigw-v2-request-no-authorizer.json")
    for key in ("headers", "queryStringParameters", "cookies", "rawQueryString"):
        event.pop(key, None)
    event["body"] = None
    echo = echoed(event)
    assert (echo["method"], echo["path"], echo["query_string"], echo["headers"]) == ("GET", "/", "", [])


# -- the deployed handler: what a web function and a plain function do with each event ------------

ECHO_APP = '''

def echo_scope():
    import base64, json

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen = {"method": scope["method"], "path": scope["path"], "raw_path": scope["raw_path"].decode("latin-1"),
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
                "body_b64": base64.b64encode(body).decode()}
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(seen).encode()})

    return app
'''

Deploy = Callable[[str, str], None]


@pytest.fixture
def deploy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deploy]:
    """Deploy one function of deployed_app's user app (plus `ECHO_APP`) as the Lambda handler sees it."""

    def deploy_function(tag: str, kind: str) -> None:
        deploy_in_process(tmp_path, monkeypatch, tag, kind, ECHO_APP,
                          web={"method": "POST"} if kind != "function" else None)

    yield deploy_function
    lambda_handler.shutdown()


@pytest.fixture
def web(deploy: Deploy) -> None:
    deploy("echo_scope", "asgi_app")


def handled(event: Any, caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    """The handler's reply, checked to be a clean refusal or answer: no traceback logged."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="toolkit.runtime"):
        reply = lambda_handler.handler(event, None)
    assert not any(record.exc_info for record in caplog.records), caplog.text
    assert isinstance(reply, dict) and isinstance(reply.get("statusCode"), int), reply
    return reply


def http_v2(path: str = "/", body: str | None = None, b64: bool = False) -> dict[str, Any]:
    event = extra("apigw-v2-request-no-authorizer.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = "POST"
    event.update(body=body, isBase64Encoded=b64)
    return event


def rest_v1(path: str = "/") -> dict[str, Any]:
    event = extra("apigw-request.json")
    event["path"] = path
    return event


@pytest.mark.parametrize("name", list(HTTP_SAMPLES))
def test_every_http_sample_is_served_by_the_deployed_handler(web: None, name: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    event = extra(name)
    reply = handled(event, caplog)
    assert reply["statusCode"] == 200, reply
    assert json.loads(reply["body"])["path"] == HTTP_SAMPLES[name][2]


@pytest.mark.parametrize("name", ["apigw-websocket-request.json", "apigw-websocket-request-send-message.json",
                                  "apigw-websocket-request-disconnect.json"])
def test_websocket_api_events_are_refused_naming_the_fix(web: None, name: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    reply = handled(extra(name), caplog)
    assert reply["statusCode"] == 400, reply  # on $connect, anything but 2xx refuses the connection
    assert "API Gateway WebSocket" in reply["body"] and 'backend="ecs"' in reply["body"], reply["body"]
    assert "API Gateway WebSocket" in caplog.text  # the function's log says why, too


@pytest.mark.parametrize(("name", "named"), [("s3-event.json", "aws:s3"), ("sqs-event.json", "aws:sqs")])
@pytest.mark.parametrize("kind", ["asgi_app", "function"])
def test_notification_records_are_refused_naming_their_service(deploy: Deploy, kind: str, name: str, named: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    deploy("echo_scope" if kind == "asgi_app" else "square", kind)
    reply = handled(extra(name), caplog)
    assert reply["statusCode"] == 400 and named in reply["body"] and "trigger" in reply["body"], reply
    assert named in caplog.text


SCHEDULED_EVENT = {  # EventBridge's documented shape for a scheduled rule's event
    "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
    "source": "aws.events", "account": "123456789012", "time": "2019-10-08T16:53:06Z", "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/my-rule"], "detail": {},
}


def test_an_eventbridge_scheduled_event_to_a_plain_function_names_the_rule(deploy: Deploy,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    deploy("square", "function")
    reply = handled(copy.deepcopy(SCHEDULED_EVENT), caplog)
    assert reply["statusCode"] == 400 and reply["toolkit_result"] == "rejected", reply
    assert "rule/my-rule" in reply["body"] and "Scheduled Event" in reply["body"], reply["body"]


def test_a_console_test_event_to_a_plain_function_says_how_to_call_it(deploy: Deploy,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    deploy("square", "function")
    reply = handled({"key1": "value1", "key2": "value2"}, caplog)
    assert reply["statusCode"] == 400 and reply["toolkit_result"] == "rejected", reply
    assert "'square' is a plain function" in reply["body"] and ".remote()" in reply["body"], reply["body"]
    assert "key1" in reply["body"] and "key1" in caplog.text


@pytest.mark.parametrize("payload", [[1, 2], "hello", 7, None])
def test_a_payload_that_is_not_an_object_is_refused(deploy: Deploy, payload: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    deploy("square", "function")
    reply = handled(payload, caplog)
    assert reply["statusCode"] == 400 and type(payload).__name__ in reply["body"], reply


def test_body_claimed_base64_but_invalid_is_a_400(web: None, caplog: pytest.LogCaptureFixture) -> None:
    reply = handled(http_v2(body="not base64!!", b64=True), caplog)
    assert reply["statusCode"] == 400, reply
    assert "body must be base64 when isBase64Encoded is true" in reply["body"], reply["body"]  # was "Error: ..."


@pytest.mark.parametrize(("raw", "decoded"), [("/a%00b", "/a\x00b"), ("/caf%C3%28", "/caf\ufffd(")])
def test_nul_and_invalid_utf8_in_the_path_reach_the_app_decoded_once(web: None, raw: str, decoded: str,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    # ASGI servers decode the path the same way (UTF-8, invalid bytes replaced); raw_path keeps the client's bytes
    seen = json.loads(handled(rest_v1(raw), caplog)["body"])
    assert (seen["path"], seen["raw_path"]) == (decoded, raw)


@pytest.mark.parametrize("value", ["a\r\nx-injected: 1", "a\nb", "a\x00b"])
def test_control_characters_in_a_header_value_are_a_400(web: None, value: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    event = http_v2()
    event["headers"]["x-bad"] = value
    reply = handled(event, caplog)
    assert reply["statusCode"] == 400 and "x-bad" in reply["body"], reply


def test_a_huge_header_count_is_refused_quickly(web: None, caplog: pytest.LogCaptureFixture) -> None:
    event = http_v2()
    event["headers"] = {f"x-h{i}": "v" for i in range(200_000)}
    started = time.monotonic()
    reply = handled(event, caplog)
    assert reply["statusCode"] in (400, 431), reply
    assert time.monotonic() - started < 10  # bounded: a generous ceiling for a loaded 2-core machine


# -- HTTP samples: the response shape each source needs -------------------------------------------

def answered(name: str, path: str) -> dict[str, Any]:
    event = extra(name)
    if HTTP_SAMPLES[name][0] in (EventSource.HTTP_V2, EventSource.FUNCTION_URL):
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    else:
        event["path"] = path
    return LambdaBridge(echo_app)(event, None)


@pytest.mark.parametrize("name", list(HTTP_SAMPLES))
def test_binary_response_is_base64_for_every_sample(name: str) -> None:
    response = answered(name, "/binary")
    assert response["isBase64Encoded"] is True and base64.b64decode(response["body"]) == PNG_BYTES


@pytest.mark.parametrize("name", list(HTTP_SAMPLES))
def test_set_cookie_survives_in_the_shape_of_every_sample(name: str) -> None:
    source = HTTP_SAMPLES[name][0]
    response = answered(name, "/cookies")
    cookies = ["a=1; Path=/", "b=2"]
    if source in (EventSource.HTTP_V2, EventSource.FUNCTION_URL):
        assert response["cookies"] == cookies and "set-cookie" not in response["headers"]
    elif "multiValueHeaders" in extra(name):
        assert response["multiValueHeaders"]["set-cookie"] == cookies
    else:  # ALB without multi-value headers: one header per name, the repeats told apart by their case
        assert sorted(v for k, v in response["headers"].items() if k.lower() == "set-cookie") == cookies


@pytest.mark.parametrize("name", ["alb-lambda-target-request-headers-only.json",
                                  "alb-lambda-target-request-multivalue-headers.json"])
def test_a_refusal_to_an_alb_event_has_the_target_groups_shape(web: None, name: str,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    event = extra(name)
    event["body"] = "not base64!!"
    event["isBase64Encoded"] = True
    reply = handled(event, caplog)
    assert (reply["statusCode"], reply["statusDescription"], reply["isBase64Encoded"]) == (400, "400 Bad Request", False)
    content_type = ["text/plain; charset=utf-8"]
    if "multiValueHeaders" in event:  # the target group reads only multiValueHeaders then
        assert reply["multiValueHeaders"]["content-type"] == content_type and "headers" not in reply
    else:
        assert [reply["headers"]["content-type"]] == content_type and "multiValueHeaders" not in reply


@pytest.mark.parametrize("name", ["apigw-v2-request.json", "alb-lambda-target-request-headers-only.json"])
def test_an_http_request_to_a_plain_function_is_refused_in_the_reply_and_the_log(
        deploy: Deploy, name: str, caplog: pytest.LogCaptureFixture) -> None:
    deploy("square", "function")
    reply = handled(extra(name), caplog)
    assert reply["statusCode"] == 400 and "'square' is a plain function" in reply["body"], reply
    assert "'square' is a plain function" in caplog.text


# -- the image's Runtime API entry (`respond`): Function URL samples stream, refusals are replies ---

class Answer:
    """A `StreamingReply` that keeps what the handler answered: a buffered result or a stream."""

    def __init__(self) -> None:
        self.result: Any = None
        self.streamed = Collected()

    @property
    def answered(self) -> bool:
        return self.result is not None or bool(self.streamed.data)

    def send(self, result: Any) -> None:
        self.result = result

    def stream(self) -> Collected:
        return self.streamed


def test_the_function_url_sample_streams_through_respond(web: None) -> None:
    answer = Answer()
    lambda_handler.respond(extra("lambda-urls-request.json"), None, answer)
    head, _, body = answer.streamed.data.partition(PRELUDE_DELIMITER)
    assert answer.result is None and answer.streamed.closed
    assert json.loads(head)["statusCode"] == 200
    seen = json.loads(body)
    assert (seen["method"], seen["path"], base64.b64decode(seen["body_b64"])) == ("POST", "/my/path",
                                                                                  b"Hello from client!")
    assert ["cookie", "cookie1; cookie2"] in seen["headers"]


def test_a_websocket_event_through_respond_is_a_buffered_refusal(web: None) -> None:
    answer = Answer()
    lambda_handler.respond(extra("apigw-websocket-request.json"), None, answer)
    assert answer.result["statusCode"] == 400 and "API Gateway WebSocket" in answer.result["body"]
    assert answer.streamed.data == b""


# -- events that passed the shape check but broke Mangum's parsing --------------------------------

def scope_of(event: dict[str, Any]) -> dict[str, Any]:
    scope, _ = LambdaBridge(echo_app).request(event, None)
    return scope


@pytest.mark.parametrize(("host", "forwarded_port", "server"), [
    ("[2001:db8::1]", "443", ("2001:db8::1", 443)),  # an ALB reached by its IPv6 address: was a ValueError
    ("[2001:db8::1]:8443", "443", ("2001:db8::1", 8443)),
    ("example.com:abc", "80", ("example.com", 80)),  # a port that is not a number: ignored, not fatal
    ("example.com", "not-a-port", ("example.com", 80)),
    ("example.com:8080", "443", ("example.com", 8080)),
    ("example.com", "443", ("example.com", 443)),
])
def test_alb_host_header_gives_the_server_and_reaches_the_app_unchanged(host: str, forwarded_port: str,
                                                                        server: tuple[str, int]) -> None:
    event = extra("alb-lambda-target-request-headers-only.json")
    event["headers"].update({"host": host, "x-forwarded-port": forwarded_port})
    scope = scope_of(event)
    assert scope["server"] == server
    assert [v for k, v in scope["headers"] if k == b"host"] == [host.encode()]
    assert [v for k, v in scope["headers"] if k == b"x-forwarded-port"] == [forwarded_port.encode()]


def test_every_sample_keeps_mangums_server() -> None:
    assert scope_of(extra("apigw-request.json"))["server"] == ("gy415nuibc.execute-api.us-east-1.amazonaws.com", 443)
    assert scope_of(extra("apigw-v2-request.json"))["server"] == ("mangum", 80)  # no Host header in the sample
    assert scope_of(extra("alb-lambda-target-request-multivalue-headers.json"))["server"] == (
        "lambda-test-alb-1234567.us-east-1.elb.amazonaws.com", 80)


@pytest.mark.parametrize(("name", "edit"), [
    ("apigw-v2-request.json", lambda e: e.update(headers=None, cookies=None, queryStringParameters=None)),
    ("apigw-v2-request.json", lambda e: e["requestContext"]["http"].pop("sourceIp")),
    ("apigw-request.json", lambda e: e["requestContext"].update(identity=None)),
    ("apigw-request.json", lambda e: e.update(headers=None, multiValueHeaders=None, queryStringParameters=None,
                                              multiValueQueryStringParameters=None, body=None)),
    ("alb-lambda-target-request-headers-only.json", lambda e: e.update(headers=None, queryStringParameters=None)),
])
def test_null_or_missing_optional_fields_are_served(name: str, edit: Callable[[dict[str, Any]], Any]) -> None:
    event = extra(name)
    edit(event)
    echo = echoed(event)  # each was a 400 naming a Python error (AttributeError, KeyError)
    assert echo["path"] == HTTP_SAMPLES.get(name, (None, None, "/hello/world"))[2]


def test_a_host_header_with_crlf_is_refused_by_the_deployed_handler(web: None,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    event = extra("alb-lambda-target-request-headers-only.json")
    event["headers"]["host"] = "evil\r\nx-injected: 1"
    reply = handled(event, caplog)
    assert reply["statusCode"] == 400 and "host" in reply["body"], reply


# -- every field of every extra sample, replaced or deleted: a 200 or a clean 4xx, never a 500 ---------

FUZZ_VALUES: list[Any] = [None, 1, True, "", "\x00\r\n", "%zz%", "[::1]:x", [], ["a"], {}, {"a": 1}]


def test_no_mutated_extra_sample_gets_a_500_or_a_traceback(web: None, caplog: pytest.LogCaptureFixture) -> None:
    failures = []
    for name in [*HTTP_SAMPLES, "apigw-websocket-request.json"]:
        base = extra(name)
        for path in field_paths(base):
            for value in [*FUZZ_VALUES, DELETE]:
                caplog.clear()
                reply = lambda_handler.handler(mutated(base, path, value), None)
                status = reply.get("statusCode") if isinstance(reply, dict) else None
                if not isinstance(status, int) or status >= 500 or any(r.exc_info for r in caplog.records):
                    failures.append((name, path, value, status, str(reply)[:160]))
    assert failures == []


def test_an_alb_health_check_is_answered_by_the_deployed_app(web: None, caplog: pytest.LogCaptureFixture) -> None:
    event = extra("alb-lambda-target-request-headers-only.json")
    event.update(headers={"user-agent": "ELB-HealthChecker/2.0"}, queryStringParameters={}, body="")
    reply = handled(event, caplog)
    assert (reply["statusCode"], reply["statusDescription"], reply["isBase64Encoded"]) == (200, "200 OK", False)
    assert json.loads(reply["body"])["path"] == "/" and "multiValueHeaders" not in reply

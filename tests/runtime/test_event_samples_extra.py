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
from typing import Any

import pytest
from asgi_samples import echo_app
from runtime_support import FIXTURES

from runtime.events import EventSource, LambdaBridge, classify

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

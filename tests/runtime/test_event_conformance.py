"""Real AWS event samples -> ASGI scope -> the response shape each source expects.

The four samples in tests/fixtures/aws-events are AWS's own (MIT-0).  Every test runs
the event through `LambdaBridge` (Mangum plus our corrections) into `echo_app`, a real
ASGI app that reports the scope it was given.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any
from urllib.parse import unquote

import pytest
from a2wsgi import WSGIMiddleware
from asgi_samples import PNG_BYTES, echo_app, wsgi_echo
from mangum import Mangum
from runtime_support import FIXTURES

from runtime.events import EventSource, LambdaBridge, classify

SAMPLES = {
    EventSource.REST_V1: "apigw-v1-rest-api.json",
    EventSource.HTTP_V2: "apigw-v2-http-api.json",
    EventSource.ALB: "alb-multi-value-headers.json",
    EventSource.FUNCTION_URL: "function-url-browser-get.json",
}
ALL = list(SAMPLES)
PAYLOAD_V2 = (EventSource.HTTP_V2, EventSource.FUNCTION_URL)


def sample(source: EventSource) -> dict[str, Any]:
    return copy.deepcopy(json.loads((FIXTURES / "aws-events" / SAMPLES[source]).read_text()))


def with_request(event: dict[str, Any], source: EventSource, *, method: str | None = None,
                 path: str | None = None, body: bytes | None = None, binary: bool = False) -> dict[str, Any]:
    """Edit a sample the way its front door would present that request. ``path`` is as sent (encoded)."""
    if method is not None:
        if source in PAYLOAD_V2:
            event["requestContext"]["http"]["method"] = method
        else:
            event["httpMethod"] = method
    if path is not None:
        _set_path(event, source, path)
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if binary else body.decode()
        event["isBase64Encoded"] = binary
    return event


def _set_path(event: dict[str, Any], source: EventSource, path: str) -> None:
    if source is EventSource.HTTP_V2:  # the HTTP API decodes the path before invoking
        event["rawPath"] = event["requestContext"]["http"]["path"] = unquote(path)
    elif source is EventSource.FUNCTION_URL:
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    else:
        event["path"] = path


def serve(event: dict[str, Any]) -> dict[str, Any]:
    return LambdaBridge(echo_app)(event, None)


def echoed(event: dict[str, Any]) -> dict[str, Any]:
    response = serve(event)
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])


def header_values(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k == name]


# -- request side: the four real samples ---------------------------------------------------------

EXPECTED = {
    EventSource.REST_V1: ("GET", "/my/path", "parameter1=value1&parameter1=value2&parameter2=value",
                          "192.168.0.1", b"Hello from Lambda!"),
    EventSource.HTTP_V2: ("POST", "/my/path", "parameter1=value1&parameter1=value2&parameter2=value",
                          "192.168.0.1", b'{"message": "hello world", "username": "tom"}'),
    EventSource.ALB: ("GET", "/todos", "", "123.123.123.123", b""),
    EventSource.FUNCTION_URL: ("GET", "/", "", "123.123.123.123", b""),
}


@pytest.mark.parametrize("source", ALL)
def test_sample_is_classified(source: EventSource) -> None:
    assert classify(sample(source)) is source


@pytest.mark.parametrize("source", ALL)
def test_sample_becomes_the_right_scope(source: EventSource) -> None:
    method, path, query, client, body = EXPECTED[source]
    echo = echoed(sample(source))
    assert (echo["method"], echo["path"], echo["raw_path"], echo["query_string"]) == (method, path, path, query)
    assert echo["client"] == [client, 0]  # address only: the samples' "192.168.0.1/32" loses its prefix
    assert base64.b64decode(echo["body_b64"]) == body


def test_rest_v1_repeated_header_values_stay_separate_entries() -> None:
    # Mangum alone joins multiValueHeaders into one "value1, value2" entry.
    echo = echoed(sample(EventSource.REST_V1))
    assert header_values(echo, "header2") == ["value1", "value2"]
    assert header_values(echo, "origin") == ["https://aws.amazon.com"]  # only in "headers": kept


@pytest.mark.parametrize("source", PAYLOAD_V2)
def test_v2_headers_keep_the_source_combined_value(source: EventSource) -> None:
    assert header_values(echoed(sample(source)), "header2") == ["value1,value2"]


def test_v2_cookies_become_one_cookie_header() -> None:
    assert header_values(echoed(sample(EventSource.HTTP_V2)), "cookie") == ["cookie1; cookie2"]


def test_alb_client_is_the_hop_the_load_balancer_saw() -> None:
    event = sample(EventSource.ALB)
    event["multiValueHeaders"]["x-forwarded-for"] = ["6.6.6.6, 10.0.0.9"]  # first hop is client-supplied
    assert echoed(event)["client"] == ["10.0.0.9", 0]


def test_rest_v1_repeated_query_keys() -> None:
    event = sample(EventSource.REST_V1)
    event["multiValueQueryStringParameters"] = {"tag": ["a b", "c&d"], "x": ["1"]}
    assert echoed(event)["query_string"] == "tag=a+b&tag=c%26d&x=1"


# -- request side: edge cases, every source ------------------------------------------------------

@pytest.mark.parametrize("source", ALL)
def test_empty_body(source: EventSource) -> None:
    event = sample(source)
    event["body"] = None
    assert echoed(event)["body_b64"] == ""


@pytest.mark.parametrize("source", ALL)
def test_binary_upload(source: EventSource) -> None:
    event = with_request(sample(source), source, method="POST", body=PNG_BYTES, binary=True)
    assert base64.b64decode(echoed(event)["body_b64"]) == PNG_BYTES


@pytest.mark.parametrize("source", ALL)
def test_path_with_spaces_and_encoded_characters(source: EventSource) -> None:
    echo = echoed(with_request(sample(source), source, path="/files/a%20b/caf%C3%A9%2520x"))
    assert echo["path"] == "/files/a b/café%20x"  # decoded exactly once
    assert unquote(echo["raw_path"]) == "/files/a b/café%20x"


@pytest.mark.parametrize("source", [EventSource.REST_V1, EventSource.ALB, EventSource.FUNCTION_URL])
def test_encoded_slash_survives_in_raw_path(source: EventSource) -> None:
    # the HTTP API decodes %2F before we see it; the others keep it, and so must raw_path
    echo = echoed(with_request(sample(source), source, path="/a%2Fb"))
    assert (echo["path"], echo["raw_path"]) == ("/a/b", "/a%2Fb")


@pytest.mark.parametrize("source", ALL)
def test_trailing_slash_is_kept(source: EventSource) -> None:
    assert echoed(with_request(sample(source), source, path="/todos/"))["path"] == "/todos/"


@pytest.mark.parametrize("source", ALL)
def test_head_request(source: EventSource) -> None:
    response = serve(with_request(sample(source), source, method="HEAD", path="/empty"))
    assert response["statusCode"] == 204 and response["body"] == ""


# -- response side: the shape each source expects -------------------------------------------------

def test_rest_v1_response_uses_multi_value_headers() -> None:
    response = serve(with_request(sample(EventSource.REST_V1), EventSource.REST_V1, path="/cookies"))
    assert response["statusCode"] == 201 and response["body"] == "ok" and not response["isBase64Encoded"]
    assert response["multiValueHeaders"]["set-cookie"] == ["a=1; Path=/", "b=2"]
    assert response["multiValueHeaders"]["x-multi"] == ["one", "two"]
    assert response["headers"]["content-type"] == "text/plain"


@pytest.mark.parametrize("source", PAYLOAD_V2)
def test_v2_response_uses_cookies(source: EventSource) -> None:
    response = serve(with_request(sample(source), source, path="/cookies"))
    assert response["statusCode"] == 201 and response["body"] == "ok"
    assert response["cookies"] == ["a=1; Path=/", "b=2"]
    assert "set-cookie" not in response["headers"] and response["headers"]["x-multi"] == "one,two"
    assert "multiValueHeaders" not in response


def test_alb_with_multi_value_headers_answers_multi_value_headers() -> None:
    response = serve(with_request(sample(EventSource.ALB), EventSource.ALB, path="/cookies"))
    assert response["multiValueHeaders"]["set-cookie"] == ["a=1; Path=/", "b=2"] and "headers" not in response


def test_alb_without_multi_value_headers_answers_headers() -> None:
    event = with_request(sample(EventSource.ALB), EventSource.ALB, path="/cookies")
    event["headers"] = {k: v[-1] for k, v in event.pop("multiValueHeaders").items()}
    response = serve(event)
    assert "multiValueHeaders" not in response
    # ALB single-value mode: repeated names are sent with different casings so both survive
    cookies = sorted(v for k, v in response["headers"].items() if k.lower() == "set-cookie")
    assert cookies == ["a=1; Path=/", "b=2"]


@pytest.mark.parametrize("source", ALL)
def test_binary_response_is_base64(source: EventSource) -> None:
    response = serve(with_request(sample(source), source, path="/binary"))
    assert response["isBase64Encoded"] is True and base64.b64decode(response["body"]) == PNG_BYTES
    assert response["statusCode"] == 200


# -- WSGI through a2wsgi then Mangum --------------------------------------------------------------

@pytest.mark.parametrize("source", ALL)
def test_plain_wsgi_callable(source: EventSource) -> None:
    event = with_request(sample(source), source, method="POST", path="/w%20x", body=PNG_BYTES, binary=True)
    response = LambdaBridge(WSGIMiddleware(wsgi_echo))(event, None)  # type: ignore[arg-type]
    echo = json.loads(response["body"])
    assert (echo["method"], echo["path"], base64.b64decode(echo["body_b64"])) == ("POST", "/w x", PNG_BYTES)
    assert echo["remote_addr"] == EXPECTED[source][3]
    cookies = response.get("cookies") or response.get("multiValueHeaders", {}).get("set-cookie")
    assert cookies == ["w=1", "v=2"]


# -- why the corrections exist: what Mangum alone does ----------------------------------------------

def test_mangum_alone_decodes_http_api_paths_twice() -> None:
    event = with_request(sample(EventSource.HTTP_V2), EventSource.HTTP_V2, path="/caf%2520x")
    plain = json.loads(Mangum(echo_app, lifespan="off")(event, None)["body"])  # type: ignore[arg-type]
    assert plain["path"] == "/caf x"  # wrong: the user asked for a literal "%20"
    assert echoed(event)["path"] == "/caf%20x"


def test_mangum_alone_keeps_cidr_and_joins_headers() -> None:
    plain = json.loads(Mangum(echo_app, lifespan="off")(sample(EventSource.REST_V1), None)["body"])  # type: ignore[arg-type]
    assert plain["client"] == ["192.168.0.1/32", 0] and header_values(plain, "header2") == ["value1, value2"]

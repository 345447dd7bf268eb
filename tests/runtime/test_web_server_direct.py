"""The Lambda ``web_server`` path: event -> one HTTP request on a kept connection -> Lambda response.

`runtime.lambda_handler.direct_proxy` skips the event loop for ``web_server`` functions.  These
tests run the four real AWS event samples through the real handler against a real server
process (http.server, HTTP/1.1 keep-alive, idle connections dropped after ``IDLE_S``) and check
what reaches the server, the response shape, that the ASGI path gives the same reply, and that
the gateway's refusals and a stale or dead connection are handled.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from typing import Any

import pytest
from web_server_lambda import IDLE_S, SAMPLES, WebServerEnv, echo, proxy, sample, stop_listener

from runtime import lambda_handler
from runtime.adapters import web_server
from runtime.events import EventSource
from runtime.gateway import hash_secret

QUERY = "parameter1=value1&parameter1=value2&parameter2=value"
# method, request target, client address, body: as the samples carry them
EXPECTED = {
    EventSource.REST_V1: ("GET", f"/my/path?{QUERY}", "192.168.0.1", b"Hello from Lambda!"),
    EventSource.HTTP_V2: ("POST", f"/my/path?{QUERY}", "192.168.0.1", b'{"message": "hello world", "username": "tom"}'),
    EventSource.ALB: ("GET", "/todos", "123.123.123.123", b""),
    EventSource.FUNCTION_URL: ("GET", "/", "123.123.123.123", b""),
}
BINARY = bytes(range(256))

def headers(seen: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k.lower() == name]


@pytest.mark.parametrize("source", list(SAMPLES))
def test_sample_reaches_the_server_and_answers_in_its_shape(web_server_env: WebServerEnv, source: EventSource) -> None:
    port = web_server_env()
    method, target, client, body = EXPECTED[source]
    event = sample(source)
    sent_host = [v for k, v in (event.get("headers") or {}).items() if k.lower() == "host"] or [
        v for k, vs in (event.get("multiValueHeaders") or {}).items() if k.lower() == "host" for v in vs]
    seen = echo(lambda_handler.handler(event, None))
    assert (seen["method"], seen["target"], base64.b64decode(seen["body_b64"])) == (method, target, body)
    assert headers(seen, "x-forwarded-for")[-1].split(", ")[-1] == client  # the source's own client field
    assert headers(seen, "host") == [f"127.0.0.1:{port}"] and headers(seen, "x-forwarded-host") == sent_host
    assert len(headers(seen, "x-forwarded-proto")) == 1
    assert headers(seen, "content-length") == ([str(len(body))] if body else [])
    if source is EventSource.REST_V1:
        assert headers(seen, "header2") == ["value1", "value2"]  # repeated values stay separate
    if source is EventSource.HTTP_V2:
        assert headers(seen, "cookie") == ["cookie1; cookie2"]
    assert proxy()._clients == {}  # served without the async httpx/ASGI path


@pytest.mark.parametrize("source", list(SAMPLES))
def test_binary_response_shape_is_the_asgi_paths(web_server_env: WebServerEnv, source: EventSource) -> None:
    web_server_env()
    event = sample(source, path="/binary")
    direct = lambda_handler.handler(copy.deepcopy(event), None)
    assert direct["isBase64Encoded"] is True and base64.b64decode(direct["body"]) == BINARY
    if source in (EventSource.HTTP_V2, EventSource.FUNCTION_URL):
        assert direct["cookies"] == ["a=1; Path=/", "b=2"]
    else:
        assert direct["multiValueHeaders"]["set-cookie"] == ["a=1; Path=/", "b=2"]
    service = lambda_handler.init()
    assert service.bridge is not None and service.bridge.direct is not None
    service.bridge.direct = None  # the same event through Gateway + WebServerProxy as ASGI
    through_asgi = lambda_handler.handler(copy.deepcopy(event), None)
    assert proxy()._clients  # that one did take the ASGI path
    for reply in (direct, through_asgi):
        for field in ("headers", "multiValueHeaders"):
            reply.get(field, {}).pop("date", None)
    assert direct == through_asgi


def test_connection_is_kept_and_replaced_when_the_server_drops_it(web_server_env: WebServerEnv,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    web_server_env()
    event = sample(EventSource.HTTP_V2)
    first, second = (echo(lambda_handler.handler(event, None))["peer_port"] for _ in range(2))
    assert first == second  # one keep-alive connection
    time.sleep(IDLE_S * 3)  # the server closes it, as after a frozen Lambda environment thaws
    third = echo(lambda_handler.handler(event, None))["peer_port"]
    assert third != second
    # the same when the close is not seen before sending: the request is retried once on a new connection
    monkeypatch.setattr(web_server, "_closed_by_peer", lambda sock: False)
    time.sleep(IDLE_S * 3)
    assert echo(lambda_handler.handler(event, None))["peer_port"] != third


def test_path_with_spaces_and_non_ascii_is_sent_encoded(web_server_env: WebServerEnv) -> None:
    web_server_env()
    event = sample(EventSource.FUNCTION_URL, path="/a b/é%2F")
    event["rawQueryString"] = "q=x y"
    assert echo(lambda_handler.handler(event, None))["target"] == "/a%20b/%C3%A9%2F?q=x%20y"


def test_gateway_refusals_still_apply(web_server_env: WebServerEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_PROXY_TOKENS", json.dumps({"tk-1": hash_secret("s3cret")}))
    web_server_env(requires_proxy_auth=True, method="POST")
    event = sample(EventSource.HTTP_V2)
    assert lambda_handler.handler(copy.deepcopy(event), None)["statusCode"] == 401
    event["headers"].update({"toolkit-key": "tk-1", "toolkit-secret": "s3cret"})
    assert echo(lambda_handler.handler(copy.deepcopy(event), None))["method"] == "POST"
    event.update(body=base64.b64encode(b"x" * 4_600_000).decode(), isBase64Encoded=True)
    refused = lambda_handler.handler(event, None)
    assert refused["statusCode"] == 413 and "4500000 byte limit" in refused["body"]


def test_server_gone_is_a_502_and_the_environment_survives(web_server_env: WebServerEnv) -> None:
    port = web_server_env()
    assert lambda_handler.handler(sample(EventSource.HTTP_V2), None)["statusCode"] == 200
    stop_listener(port)
    time.sleep(0.2)
    reply = lambda_handler.handler(sample(EventSource.HTTP_V2), None)
    assert reply["statusCode"] == 502 and f"127.0.0.1:{port}" in reply["body"]


def test_headers_named_by_connection_are_not_forwarded_either_way(web_server_env: WebServerEnv) -> None:
    web_server_env()
    proxy()
    event = sample(EventSource.HTTP_V2, "/hop")
    event["headers"].update({"connection": "keep-alive, X-Client-Hop", "x-client-hop": "secret", "x-kept": "1"})
    reply = lambda_handler.handler(event, None)
    seen = echo(reply)
    assert headers(seen, "x-kept") == ["1"] and not headers(seen, "x-client-hop"), seen["headers"]
    assert "x-upstream-hop" not in {k.lower() for k in reply.get("headers", {})}, reply
    assert "x-upstream-hop" not in {k.lower() for k in reply.get("multiValueHeaders", {})}, reply

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
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from deployed_app import function, write_app
from runtime_support import FIXTURES, free_port

from runtime import lambda_handler
from runtime.adapters import web_server
from runtime.events import EventSource
from runtime.gateway import hash_secret

IDLE_S = 0.5
SAMPLES = {
    EventSource.REST_V1: "apigw-v1-rest-api.json",
    EventSource.HTTP_V2: "apigw-v2-http-api.json",
    EventSource.ALB: "alb-multi-value-headers.json",
    EventSource.FUNCTION_URL: "function-url-browser-get.json",
}
QUERY = "parameter1=value1&parameter1=value2&parameter2=value"
# method, request target, client address, body: as the samples carry them
EXPECTED = {
    EventSource.REST_V1: ("GET", f"/my/path?{QUERY}", "192.168.0.1", b"Hello from Lambda!"),
    EventSource.HTTP_V2: ("POST", f"/my/path?{QUERY}", "192.168.0.1", b'{"message": "hello world", "username": "tom"}'),
    EventSource.ALB: ("GET", "/todos", "123.123.123.123", b""),
    EventSource.FUNCTION_URL: ("GET", "/", "123.123.123.123", b""),
}
BINARY = bytes(range(256))

ECHO_SERVER = f'''
import base64, json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    timeout = {IDLE_S}  # an idle kept connection is closed by the server, as uvicorn does after 5 s

    def _reply(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/binary"):
            out, ctype = bytes(range(256)), "image/png"
        else:
            out, ctype = json.dumps({{"method": self.command, "target": self.path, "headers": self.headers.items(),
                                     "body_b64": base64.b64encode(body).decode(),
                                     "peer_port": self.client_address[1]}}).encode(), "application/json"
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("set-cookie", "a=1; Path=/")
        self.send_header("set-cookie", "b=2")
        if self.path.startswith("/hop"):  # a header the Connection header makes hop-by-hop
            self.send_header("connection", "x-upstream-hop")
            self.send_header("x-upstream-hop", "1")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_HEAD = _reply

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
'''

Deploy = Callable[..., int]


@pytest.fixture
def deploy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deploy]:
    ports: list[int] = []

    def _deploy(**web: Any) -> int:
        lambda_handler.shutdown()
        port = free_port()
        ports.append(port)
        monkeypatch.setenv("ECHO_PORT", str(port))
        manifest = write_app(tmp_path, [function("server", "web_server",
                                                 web={"port": port, "startup_timeout": 10, **web})])
        (tmp_path / "echo_server.py").write_text(ECHO_SERVER)
        monkeypatch.setenv("TOOLKIT_MANIFEST", str(manifest))
        monkeypatch.setenv("TOOLKIT_FUNCTION", "server")
        monkeypatch.setenv("TOOLKIT_APP_ROOT", str(tmp_path))
        return port

    yield _deploy
    lambda_handler.shutdown()
    for port in ports:
        _stop_listener(port)


def _stop_listener(port: int) -> None:
    subprocess.run(["fuser", "-k", f"{port}/tcp"], capture_output=True, check=False)


def sample(source: EventSource, path: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / "aws-events" / SAMPLES[source]).read_text()))
    if path is not None:
        if source in (EventSource.HTTP_V2, EventSource.FUNCTION_URL):
            event["rawPath"] = event["requestContext"]["http"]["path"] = path
        else:
            event["path"] = path
    return event


def proxy() -> web_server.WebServerProxy:
    service = lambda_handler.init()
    assert isinstance(service.app, web_server.WebServerProxy)
    return service.app


def echo(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["statusCode"] == 200, reply
    body = base64.b64decode(reply["body"]) if reply.get("isBase64Encoded") else reply["body"].encode()
    out: dict[str, Any] = json.loads(body)
    return out


def headers(seen: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k.lower() == name]


@pytest.mark.parametrize("source", list(SAMPLES))
def test_sample_reaches_the_server_and_answers_in_its_shape(deploy: Deploy, source: EventSource) -> None:
    port = deploy()
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
def test_binary_response_shape_is_the_asgi_paths(deploy: Deploy, source: EventSource) -> None:
    deploy()
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


def test_connection_is_kept_and_replaced_when_the_server_drops_it(deploy: Deploy,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    deploy()
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


def test_path_with_spaces_and_non_ascii_is_sent_encoded(deploy: Deploy) -> None:
    deploy()
    event = sample(EventSource.FUNCTION_URL, path="/a b/é%2F")
    event["rawQueryString"] = "q=x y"
    assert echo(lambda_handler.handler(event, None))["target"] == "/a%20b/%C3%A9%2F?q=x%20y"


def test_gateway_refusals_still_apply(deploy: Deploy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_PROXY_TOKENS", json.dumps({"tk-1": hash_secret("s3cret")}))
    deploy(requires_proxy_auth=True, method="POST")
    event = sample(EventSource.HTTP_V2)
    assert lambda_handler.handler(copy.deepcopy(event), None)["statusCode"] == 401
    event["headers"].update({"toolkit-key": "tk-1", "toolkit-secret": "s3cret"})
    assert echo(lambda_handler.handler(copy.deepcopy(event), None))["method"] == "POST"
    event.update(body=base64.b64encode(b"x" * 4_600_000).decode(), isBase64Encoded=True)
    refused = lambda_handler.handler(event, None)
    assert refused["statusCode"] == 413 and "4500000 byte limit" in refused["body"]


def test_server_gone_is_a_502_and_the_environment_survives(deploy: Deploy) -> None:
    port = deploy()
    assert lambda_handler.handler(sample(EventSource.HTTP_V2), None)["statusCode"] == 200
    _stop_listener(port)
    time.sleep(0.2)
    reply = lambda_handler.handler(sample(EventSource.HTTP_V2), None)
    assert reply["statusCode"] == 502 and f"127.0.0.1:{port}" in reply["body"]


def test_headers_named_by_connection_are_not_forwarded_either_way(deploy: Deploy) -> None:
    deploy()
    proxy()
    event = sample(EventSource.HTTP_V2, "/hop")
    event["headers"].update({"connection": "keep-alive, X-Client-Hop", "x-client-hop": "secret", "x-kept": "1"})
    reply = lambda_handler.handler(event, None)
    seen = echo(reply)
    assert headers(seen, "x-kept") == ["1"] and not headers(seen, "x-client-hop"), seen["headers"]
    assert "x-upstream-hop" not in {k.lower() for k in reply.get("headers", {})}, reply
    assert "x-upstream-hop" not in {k.lower() for k in reply.get("multiValueHeaders", {})}, reply

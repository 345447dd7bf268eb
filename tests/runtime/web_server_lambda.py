"""A ``web_server`` function deployed as the Lambda handler sees it, for the tests of that path
(test_web_server_direct.py, test_hostile_events.py): the echo server process it runs, the real AWS
event samples it is sent, and what reads its replies.  The ``web_server_env`` fixture
(tests/runtime/conftest.py) deploys it."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from deployed_app import function, write_app
from loopback import free_port
from runtime_support import FIXTURES

from runtime import lambda_handler
from runtime.adapters import web_server
from runtime.events import EventSource

IDLE_S = 0.5
WebServerEnv = Callable[..., int]  # the web_server_env fixture: deploys the echo server, returns its port
SAMPLES = {
    EventSource.REST_V1: "apigw-v1-rest-api.json",
    EventSource.HTTP_V2: "apigw-v2-http-api.json",
    EventSource.ALB: "alb-multi-value-headers.json",
    EventSource.FUNCTION_URL: "function-url-browser-get.json",
}
ECHO_SERVER = f'''
import base64, json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # head and body are two writes: no delayed-ACK wait between them
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


def deploy_echo_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **web: Any) -> int:
    """Write the app (one ``web_server`` function, ``server``, running `ECHO_SERVER` on a free port)
    and point the Lambda handler's environment at it; the port."""
    lambda_handler.shutdown()
    port = free_port()
    monkeypatch.setenv("ECHO_PORT", str(port))
    manifest = write_app(tmp_path, [function("server", "web_server", web={"port": port, "startup_timeout": 10, **web})])
    (tmp_path / "echo_server.py").write_text(ECHO_SERVER)
    monkeypatch.setenv("TOOLKIT_MANIFEST", str(manifest))
    monkeypatch.setenv("TOOLKIT_FUNCTION", "server")
    monkeypatch.setenv("TOOLKIT_APP_ROOT", str(tmp_path))
    return port


def stop_listener(port: int) -> None:
    """Stop whatever listens on ``port`` (the user's server the handler started)."""
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

"""Hostile Lambda events against the real handler: what an attacker can put in the event's JSON.

A Lambda event is JSON, not a parsed HTTP request, so nothing upstream has checked its header
names, values, types or sizes.  These tests send such events through
`runtime.lambda_handler.handler` (the ``web_server`` direct path to a real server process, and
the ASGI path into a real app) and check that each is refused with a 400 that names the
problem, and that nothing one event leaves behind changes another's answer.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from deployed_app import function, write_app
from runtime_support import free_port
from test_web_server_direct import ECHO_SERVER, echo, sample

from runtime import lambda_handler
from runtime.adapters import web_server
from runtime.events import EventSource

WebServerEnv = Callable[..., int]


@pytest.fixture
def web_server_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebServerEnv]:
    """A ``web_server`` function deployed as the Lambda handler sees it: a real keep-alive server process."""
    ports: list[int] = []

    def deploy(**web: Any) -> int:
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

    yield deploy
    lambda_handler.shutdown()
    for port in ports:
        subprocess.run(["fuser", "-k", f"{port}/tcp"], capture_output=True, check=False)


def proxy() -> web_server.WebServerProxy:
    app = lambda_handler.init().app
    assert isinstance(app, web_server.WebServerProxy)
    return app


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


def test_valid_unusual_headers_still_pass(web_server_env: WebServerEnv) -> None:
    web_server_env()
    event = sample(EventSource.HTTP_V2)
    event["headers"].update({"x-utf8": "caf\u00e9 \u2713", "x-tab": "a\tb", "x-token!#$%&'*+-.^_`|~": "1"})
    seen = echo(lambda_handler.handler(copy.deepcopy(event), None))
    names = {k.lower() for k, _ in seen["headers"]}
    assert {"x-utf8", "x-tab", "x-token!#$%&'*+-.^_`|~"} <= names

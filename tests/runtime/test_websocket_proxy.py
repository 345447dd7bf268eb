"""WebSockets through a ``@web_server`` on the ECS/GPU HTTP entrypoint, and their refusal on Lambda.

``python -m runtime.server`` runs as a subprocess (as in the image) in front of a real user
server with a WebSocket route; the client is the ``websockets`` library.  The semantics are
toolkit serve's: accepted only once upstream accepted, the upstream's subprotocol,
``X-Forwarded-For``, both directions, close codes both ways, 1009 past 2 MiB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from deployed_app import function
from loopback import free_port
from runtime_support import FIXTURES
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from runtime import lambda_handler

REPO = Path(__file__).resolve().parents[2]

USER_APP = '''
import os, subprocess, sys

def server():
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.Popen([sys.executable, os.path.join(here, "ws_server.py"), os.environ["WS_PORT"]])
'''

# the user's server: an ASGI app under uvicorn; /echo echoes, /reject refuses the handshake
WS_SERVER = '''
import json, os, sys, uvicorn

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"plain http"})
        return
    await receive()  # websocket.connect
    if scope["path"] == "/reject":
        await send({"type": "websocket.close", "code": 1008})
        return
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    protocols = scope.get("subprotocols") or []
    await send({"type": "websocket.accept", "subprotocol": protocols[0] if protocols else None})
    await send({"type": "websocket.send", "text": json.dumps({
        "xff": headers.get("x-forwarded-for"), "query": scope["query_string"].decode(), "protocols": protocols})})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            with open(os.environ["WS_LOG"], "a") as log:
                log.write("client closed %s\\n" % message.get("code"))
            return
        if message.get("text") == "close-4001":
            await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
            return
        if message.get("text") == "big":
            await send({"type": "websocket.send", "bytes": b"x" * (3 * 1024 * 1024)})
            continue
        if len(message.get("bytes") or b"") > 1024 * 1024:  # logged, not echoed: the proxy must stop it
            with open(os.environ["WS_LOG"], "a") as log:
                log.write("got %d bytes\\n" % len(message["bytes"]))
            continue
        await send({k: v for k, v in message.items() if k != "type"} | {"type": "websocket.send"})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", ws_max_size=16 * 1024 * 1024)
'''


@dataclass(frozen=True)
class Deployed:
    root: Path
    env: dict[str, str]
    log: Path


def write_ws_app(root: Path) -> Deployed:
    (root / "ws_user_app.py").write_text(USER_APP)
    (root / "ws_server.py").write_text(WS_SERVER)
    web = {"port": free_port(), "startup_timeout": 20}
    manifest = {"schema_version": 1, "app": {"name": "ws", "source": {
        "kind": "file", "path": "ws_user_app.py", "module": None, "app_variable": "app"}},
        "functions": [function("server", "web_server", web=web)]}
    (root / "manifest.json").write_text(json.dumps(manifest))
    log = root / "ws.log"
    env = {"TOOLKIT_MANIFEST": str(root / "manifest.json"), "TOOLKIT_FUNCTION": "server",
           "TOOLKIT_APP_ROOT": str(root), "WS_PORT": str(web["port"]), "WS_LOG": str(log)}
    return Deployed(root, env, log)


@pytest.fixture
def entrypoint(tmp_path: Path) -> Iterator[str]:
    """``python -m runtime.server`` in a new process group (it takes the user's server down with it)."""
    deployed = write_ws_app(tmp_path)
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLKIT_", "AWS_"))}
    env = {**clean, **deployed.env, "PORT": str(port), "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "runtime.server"], cwd=tmp_path, env=env,
                               start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, 15)
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def _wait_healthy(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stderr is not None
            raise RuntimeError(f"runtime.server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/__toolkit/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("runtime.server did not become healthy")


def _log(tmp: Path) -> str:
    path = tmp / "ws.log"
    deadline = time.monotonic() + 10
    # the server's open(..., "a") creates the file before its line is written: wait for a whole line
    while not (path.exists() and path.read_text().endswith("\n")) and time.monotonic() < deadline:
        time.sleep(0.05)
    return path.read_text() if path.exists() else ""


def test_messages_both_ways_with_subprotocol_and_forwarded_for(entrypoint: str, tmp_path: Path) -> None:
    assert httpx.get(f"http://{entrypoint}/").text == "plain http"
    with connect(f"ws://{entrypoint}/echo?room=7", subprotocols=["chat.v2", "chat.v1"]) as socket:  # type: ignore[list-item]
        assert socket.subprotocol == "chat.v2"  # the one the user's server picked
        hello = json.loads(socket.recv(timeout=10))
        assert hello == {"xff": "127.0.0.1", "query": "room=7", "protocols": ["chat.v2", "chat.v1"]}
        socket.send("text stays text")
        assert socket.recv(timeout=10) == "text stays text"
        socket.send(b"\x00bytes stay bytes")
        assert socket.recv(timeout=10) == b"\x00bytes stay bytes"
        socket.close(code=4002)
    assert _log(tmp_path) == "client closed 4002\n"  # the client's close code reached the user's server


def test_upstream_close_code_and_reason_reach_the_client(entrypoint: str) -> None:
    with connect(f"ws://{entrypoint}/echo") as socket:
        socket.recv(timeout=10)
        socket.send("close-4001")
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None and (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "bye")


def test_a_refused_upstream_handshake_fails_the_clients(entrypoint: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://{entrypoint}/reject", open_timeout=10)
    assert refused.value.response.status_code == 403  # closed before accept, as toolkit serve does


@pytest.mark.parametrize("direction", ["client to server", "server to client"])
def test_messages_over_2_mib_close_with_1009(entrypoint: str, direction: str, tmp_path: Path) -> None:
    with connect(f"ws://{entrypoint}/echo", max_size=None) as socket:
        socket.recv(timeout=10)
        socket.send(b"y" * (3 * 1024 * 1024) if direction == "client to server" else "big")
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=20)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    log = tmp_path / "ws.log"
    assert "got" not in (log.read_text() if log.exists() else "")  # never reached the user's server


def test_web_server_websocket_on_lambda_is_a_clear_400(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deployed = write_ws_app(tmp_path)
    for key, value in deployed.env.items():
        monkeypatch.setenv(key, value)
    lambda_handler.shutdown()
    event: dict[str, Any] = json.loads((FIXTURES / "aws-events" / "apigw-v2-http-api.json").read_text())
    event.update(rawPath="/echo", rawQueryString="", cookies=[], body=None, isBase64Encoded=False,
                 headers={"upgrade": "websocket", "connection": "upgrade", "sec-websocket-version": "13"})
    event["requestContext"]["http"].update(method="GET", path="/echo")
    try:
        reply = lambda_handler.handler(event, None)
        plain = lambda_handler.handler({**event, "headers": {}}, None)
    finally:
        lambda_handler.shutdown()
        subprocess.run(["fuser", "-k", f"{deployed.env['WS_PORT']}/tcp"], capture_output=True, check=False)
    assert reply["statusCode"] == 400 and "cannot hold a connection open" in reply["body"]
    assert plain["statusCode"] == 200 and plain["body"] == "plain http"

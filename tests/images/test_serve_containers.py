"""`toolkit serve --containers`: the gateway proxies to each web function's real image, run by podman.

The end-to-end test runs the CLI as a user does, sends one real HTTP request through the
gateway's Host routing, and checks that the answer could only have come from inside the
container: the image's env var and file, and a hostname that is the id of a container podman
lists for the app's image (the host's own hostname differs).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import httpx
import pytest
from image_tools import SAMPLE_APP, copy_app, run, serving_containers
from websockets.sync.client import connect as ws_connect

APP = '''"""Answers with what only the container knows."""

import os
import socket

import fastapi

import toolkit

image = (
    toolkit.Image.debian_slim("3.11")
    .env({"GREETING": "hello from the image"})
    .add_local_file("data/answer.txt", "/data/answer.txt")
)
app = toolkit.App("serve-containers-demo", image=image)


@app.function()
@toolkit.fastapi_endpoint(requires_proxy_auth=True)
def whoami(x: int = 3):
    with open("/data/answer.txt") as f:
        answer = f.read().strip()
    return {"square": x * x, "greeting": os.environ.get("GREETING"), "answer": answer,
            "hostname": socket.gethostname()}


@app.function()
@toolkit.asgi_app()
def echo():
    web = fastapi.FastAPI()

    @web.websocket("/ws")
    async def ws(conn: fastapi.WebSocket):
        await conn.accept()
        async for text in conn.iter_text():
            await conn.send_text(f"{text} from {os.environ.get('GREETING')}")

    return web
'''


def podman_containers(image_prefix: str, env: dict[str, str]) -> list[str]:
    done = run(["podman", "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Image}}"], env=env)
    assert done.returncode == 0, done.stderr
    return [line.split()[0] for line in done.stdout.splitlines() if image_prefix in line]


@pytest.mark.slow
def test_serve_containers_answers_from_inside_the_image(base_image: str, podman_env: dict[str, str],
                                                        tmp_path: Path) -> None:
    app_dir = copy_app(SAMPLE_APP, tmp_path / "app")
    (app_dir / "webapp.py").write_text(APP)
    token_home = tmp_path / "home"
    env = {**podman_env, "TOOLKIT_HOME": str(token_home)}
    created = run([sys.executable, "-m", "toolkit.cli", "token", "create"], env=env, cwd=app_dir)
    assert created.returncode == 0, created.stderr
    with serving_containers(app_dir, "webapp.py", env) as served:
        base, endpoints = served.base, served.hosts
        host = endpoints["whoami"]
        # the serve gateway still applies proxy auth: no token, 401 (and no container is needed for that)
        assert httpx.get(base + "/", headers={"host": host}, timeout=10).status_code == 401
        key, secret = _token(created.stdout)
        reply = httpx.get(base + "/", params={"x": 7}, timeout=180,
                          headers={"host": host, "Toolkit-Key": key, "Toolkit-Secret": secret})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        # only the image sets GREETING and holds /data/answer.txt; the host has neither
        assert os.environ.get("GREETING") is None and not Path("/data/answer.txt").exists()
        assert body["square"] == 49
        assert body["greeting"] == "hello from the image" and body["answer"] == "42"
        assert body["hostname"] != socket.gethostname()
        ids = podman_containers("localhost/toolkit/serve-containers-demo:", env)
        assert any(cid.startswith(body["hostname"]) for cid in ids), (body["hostname"], ids)
        # a WebSocket through the gateway into the image's HTTP entrypoint (its uvicorn needs a
        # WebSocket library in the image, as on ECS)
        sock = socket.create_connection(("127.0.0.1", served.port))
        with ws_connect(f"ws://{endpoints['echo']}/ws", sock=sock, proxy=None, open_timeout=180) as ws:
            ws.send("hi")
            assert ws.recv(timeout=60) == "hi from hello from the image"
    out = served.output
    assert served.returncode == 0, out[-4000:]
    assert "container" in out and "whoami" in out, out[-4000:]
    assert podman_containers("localhost/toolkit/serve-containers-demo:", env) == []  # stopped and removed


def _token(text: str) -> tuple[str, str]:
    """`toolkit token create` prints ``Toolkit-Key: ...`` and ``Toolkit-Secret: ...``."""
    found = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    return found["Toolkit-Key"], found["Toolkit-Secret"]


def test_serve_containers_without_an_engine_says_which_and_how(tmp_path: Path) -> None:
    """No podman or docker on PATH: one line naming both and the fix, before the app is loaded."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    (tmp_path / "webapp.py").write_text("raise SystemExit('the app must not be loaded')\n")
    done = run([str(bin_dir / "python"), "-m", "toolkit.cli", "serve", "--containers", "webapp.py"],
               cwd=tmp_path, env={**os.environ, "PATH": str(bin_dir), "TOOLKIT_BUILDER": ""})
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "neither podman nor docker is on PATH" in lines[0] and "apt-get install podman" in lines[0]

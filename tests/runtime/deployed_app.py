"""Write a user app file and its manifest into a directory, the way an image would carry them.

The user code is plain functions (what ``spec.raw_f`` unwraps to), so these tests
exercise the runtime without depending on the SDK's decorators.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

USER_APP = '''
import asyncio, contextlib, os, subprocess, sys, time
from fastapi import FastAPI, Request

STARTS = []
RUNS = []

def square(x: int) -> dict:
    RUNS.append(x)
    return {"square": x * x}

def add(a, b=0):
    RUNS.append((a, b))
    return a + b

def boom():
    raise ValueError("no good")

def env_value(name):
    return os.environ.get(name)

def big(n):
    return b"x" * n

@contextlib.asynccontextmanager
async def lifespan(app):
    STARTS.append(time.time())
    yield {"model": "loaded-%d" % len(STARTS)}

def asgi():
    web = FastAPI(lifespan=lifespan)
    @web.get("/state")
    def state(request: Request):
        return {"model": request.state.model, "starts": len(STARTS)}
    return web

def wsgi():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"wsgi " + environ["PATH_INFO"].encode()]
    return app

def server():
    subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "echo_server.py"), os.environ["ECHO_PORT"]])
'''

ECHO_SERVER = '''
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Echo(BaseHTTPRequestHandler):
    def _reply(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        out = json.dumps({"method": self.command, "path": self.path, "xff": self.headers.get("x-forwarded-for"),
                          "len": len(body)}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = _reply
    def log_message(self, *args):
        pass

ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Echo).serve_forever()
'''


def function(tag: str, kind: str = "function", *, timeout: int = 300, web: dict[str, Any] | None = None,
             name: str | None = None) -> dict[str, Any]:
    if kind != "function":
        web = {"method": "GET", "docs": False, "label": tag, "requires_proxy_auth": False, "port": None,
               "startup_timeout": None, **(web or {})}
    return {"tag": tag, "name": name or tag, "kind": kind, "is_async": False, "is_generator": False, "cls": None,
            "backend": "lambda", "resources": {"timeout": timeout}, "secrets": [], "web": web}


def write_app(root: Path, functions: list[dict[str, Any]]) -> Path:
    (root / "user_app.py").write_text(USER_APP)
    (root / "echo_server.py").write_text(ECHO_SERVER)
    manifest = {"schema_version": 1, "app": {"name": "demo", "source": {
        "kind": "file", "path": "user_app.py", "module": None, "app_variable": "app"}}, "functions": functions}
    path = root / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def deploy_in_process(root: Path, env: Any, tag: str, kind: str, extra_source: str = "", **options: Any) -> None:
    """Make `lambda_handler` in this process serve function ``tag`` of the user app (plus
    ``extra_source``), as a deployed container would: manifest, source and variables (set through
    ``env``, a ``pytest.MonkeyPatch``)."""
    from runtime import lambda_handler

    lambda_handler.shutdown()
    manifest = write_app(root, [function(tag, kind, **options)])
    with (root / "user_app.py").open("a") as source:
        source.write(extra_source)
    env.setenv("TOOLKIT_MANIFEST", str(manifest))
    env.setenv("TOOLKIT_FUNCTION", tag)
    env.setenv("TOOLKIT_APP_ROOT", str(root))

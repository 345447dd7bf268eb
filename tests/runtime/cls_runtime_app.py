"""A real toolkit app with ``@app.cls`` classes, and its manifest as ``toolkit deploy`` builds it.

The tests deploy its methods the way infra does (one environment per ``Cls.method`` tag) and
drive them through the runtime's entrypoints.  ``EVENTS`` records ``@enter`` / ``@exit`` runs
so a test can count instances.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CLS_APP = '''
import contextlib, os, subprocess, sys
import toolkit
from fastapi import FastAPI, Request, WebSocket

app = toolkit.App("classy")
EVENTS = []
HERE = os.path.dirname(os.path.abspath(__file__))


@app.cls()
class Model:
    size: int = toolkit.parameter(default=1)
    name: str = toolkit.parameter(default="m")

    @toolkit.enter()
    def load(self):
        EVENTS.append(("enter", self.size, self.name))
        self.weights = self.size * 10

    @toolkit.exit()
    def unload(self):
        EVENTS.append(("exit", self.size, self.name))

    @toolkit.method()
    def predict(self, x, scale=1):
        return {"size": self.size, "name": self.name, "y": x * self.weights * scale}

    @toolkit.method()
    def echo(self, data, grow=0):
        return data + b"r" * grow

    @toolkit.fastapi_endpoint()
    def web(self, x: int = 0):
        return {"size": self.size, "name": self.name, "x": x, "weights": self.weights}

    @toolkit.asgi_app()
    def api(self):
        @contextlib.asynccontextmanager
        async def lifespan(web):
            EVENTS.append(("lifespan", self.size, self.name))
            yield {"loaded": "model-%d" % self.size}

        web = FastAPI(lifespan=lifespan)

        @web.get("/state")
        def state(request: Request):
            return {"loaded": request.state.loaded, "size": self.size}

        @web.websocket("/ws")
        async def ws(socket: WebSocket):
            await socket.accept()
            await socket.send_text("size=%d" % self.size)
            await socket.close()

        return web


@app.cls()
class Strict:
    n: int = toolkit.parameter()

    @toolkit.enter()
    def check(self):
        if self.n < 0:
            raise ValueError("n must be >= 0, got %d" % self.n)

    @toolkit.fastapi_endpoint()
    def get(self):
        return {"n": self.n}

    @toolkit.method()
    def double(self):
        return self.n * 2


@app.cls()
class Files:
    root: str = toolkit.parameter(default="a")

    @toolkit.web_server(int(os.environ.get("FILES_PORT", "8765")), startup_timeout=10)
    def serve(self):
        subprocess.Popen([sys.executable, os.path.join(HERE, "root_server.py"), os.environ["FILES_PORT"], self.root])
'''

# the user's server for Files.serve: answers with the root it was started with (and its pid)
ROOT_SERVER = '''
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = sys.argv[2]

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        out = json.dumps({"root": ROOT, "path": self.path, "pid": os.getpid()}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
'''

MODULE = "cls_app"


def write_cls_app(root: Path) -> Path:
    """Write the app into ``root`` and return its manifest (built by toolkit.manifest from the App)."""
    from toolkit.loader import import_path
    from toolkit.manifest import build_manifest

    (root / f"{MODULE}.py").write_text(CLS_APP)
    (root / "root_server.py").write_text(ROOT_SERVER)
    module = import_path(str(root / f"{MODULE}.py"))
    try:
        source = {"kind": "file", "path": f"{MODULE}.py", "module": None, "app_variable": "app"}
        manifest = build_manifest(module.app, source=source)
    finally:
        sys.modules.pop(MODULE, None)  # the runtime imports its own copy, as a container would
    path = root / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def user_module() -> Any:
    """The copy of the app the runtime imported."""
    return sys.modules[MODULE]

"""Server classes for tests/serve/test_platform_aliases.py: one open, one behind proxy auth."""

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import toolkit

OPEN_PORT = int(os.environ.get("SERVER_OPEN_PORT", "8011"))
GUARDED_PORT = int(os.environ.get("SERVER_GUARDED_PORT", "8012"))
FLASH_PORT = int(os.environ.get("SERVER_FLASH_PORT", "8013"))

app = toolkit.App("servers-cls")


def listen(port: int, text: str) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"{text} {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


@app.server(port=OPEN_PORT, unauthenticated=True, startup_timeout=10)
class Open:
    @toolkit.enter()
    def start(self) -> None:
        listen(OPEN_PORT, "open, started in enter")


@app.server(port=GUARDED_PORT, startup_timeout=10)
class Guarded:
    @toolkit.enter()
    def start(self) -> None:
        listen(GUARDED_PORT, "guarded")


@app.cls(min_containers=0)
@toolkit.experimental.http_server(port=FLASH_PORT, proxy_regions=["us-east"], startup_timeout=10)
@toolkit.concurrent(max_inputs=7)
class Flash:  # the platform's experimental flash server: the same server, written below @app.cls
    @toolkit.enter()
    def start(self) -> None:
        listen(FLASH_PORT, "flash")

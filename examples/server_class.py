"""A server class: ``@app.server`` runs the HTTP server its ``@toolkit.enter()`` method starts
(the platform's Servers).

    toolkit serve examples/server_class.py    # then open the printed URL of server-class-greeter-serve

The server starts once per container, in ``@enter`` (so a model or cache loaded there is shared by
every request), and listens on ``port``.  On toolkit it is served like ``@toolkit.web_server``
(locally through the gateway, on ECS behind the app's front door).  ``unauthenticated=True`` opens
it to everyone; by default callers need a proxy-auth token (``toolkit token create``).
"""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import toolkit

PORT = int(os.environ.get("SERVER_CLASS_PORT", "8010"))

app = toolkit.App("server-class")


@app.server(port=PORT, unauthenticated=True, startup_timeout=10)
class Greeter:
    @toolkit.enter()
    def start(self) -> None:
        greeting = "hello"  # what @enter prepares, every request sees
        started_in = os.getpid()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps({"greeting": greeting, "path": self.path, "pid": started_in}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()  # @enter must return

"""A port forwarded out of a running function: ``toolkit.forward(port)`` (the platform's ``modal.forward``).

    toolkit run examples/forwarded_port.py --port 8765

The function starts an HTTP server on ``port`` and, inside ``with toolkit.forward(port) as tunnel``,
tells the world where to reach it (``tunnel.url``), here through a Queue named by ``announce``.
Locally the worker runs on this machine, so the tunnel is ``http://127.0.0.1:<port>``; a deployed
function refuses ``forward`` and names ``@toolkit.web_server``, which serves a port behind the app's URL.
"""

import http.server

import toolkit

app = toolkit.App("forwarded-port")


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello from the function, path {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@app.function(timeout=120)
def serve_port(port: int = 8765, requests: int = 1, announce: str = "") -> int:
    """Serve ``requests`` GETs on ``port`` through a forwarded tunnel; return how many were served."""
    with http.server.HTTPServer(("127.0.0.1", port), Hello) as server:
        server.timeout = 60  # a request that never comes ends the wait instead of the function's timeout
        with toolkit.forward(port) as tunnel:
            print("serving at", tunnel.url, flush=True)
            if announce:
                toolkit.Queue.from_name(announce, create_if_missing=True).put(tunnel.url)
            for _ in range(requests):
                server.handle_request()
    return requests


@app.local_entrypoint()
def main(port: int = 8765) -> None:
    call = serve_port.spawn(port, 1, "forwarded-port-urls")
    url = toolkit.Queue.from_name("forwarded-port-urls", create_if_missing=True).get(timeout=60)
    import urllib.request

    with urllib.request.urlopen(url + "/from-the-entrypoint", timeout=30) as response:
        print(response.read().decode().strip())
    print("served", call.get(timeout=60), "request(s) at", url)

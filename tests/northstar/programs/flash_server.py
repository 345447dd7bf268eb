"""A server class written as the platform's flash servers are, run with ``toolkit run``.

Pattern: ``@modal.experimental.http_server(port=...)`` below ``@app.cls`` over
``@modal.concurrent(target_inputs=...)`` alone (no ``max_inputs``: the platform refuses one there),
an ``@enter`` hook that starts the server in a thread and names its replica by ``MODAL_TASK_ID``,
an async entrypoint awaiting ``Cls._experimental_get_flash_urls.aio()``, and a function reading the
container variables the platform sets (``MODAL_IS_REMOTE``, ``MODAL_ENVIRONMENT``), in an image whose
only step is a ``run_commands`` (local workers skip it: toolkit says so).
"""

import asyncio
import json
import os
import urllib.request

import toolkit as modal

app = modal.App("northstar-flash")
PORT = int(os.environ.get("NORTHSTAR_FLASH_PORT", "18767"))


@app.cls()
@modal.experimental.http_server(port=PORT)
@modal.concurrent(target_inputs=8)
class Replica:
    @modal.enter()
    def start(self):
        import http.server
        import threading

        replica = os.environ["MODAL_TASK_ID"]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"replica": replica}).encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()


@app.function(image=modal.Image.debian_slim().run_commands("pip install northstar-flash-tools"))
def container() -> dict:
    return {"task": os.environ["MODAL_TASK_ID"].split("-")[0], "remote": os.environ["MODAL_IS_REMOTE"],
            "environment": os.environ["MODAL_ENVIRONMENT"]}


def fetch(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


@app.local_entrypoint()
async def main():
    urls = await Replica._experimental_get_flash_urls.aio()
    answer = await asyncio.to_thread(fetch, urls[0])
    print("replica:", answer["replica"].split("-")[0])
    print("container:", sorted((await container.remote.aio()).items()))
    print("here:", os.environ.get("MODAL_IS_REMOTE"))

"""Endpoints the second round of hostile-client tests aims at (tests/serve/test_hostile_more.py).

``site`` (an asgi_app taking several inputs per worker) leaves marks in ``HOSTILE_MARKS``: a
request's worker pid on arrival, and whether its body arrived whole.  ``counter`` is a
web_server written on raw sockets, so the test decides what its peer does on the wire: it
counts every request it reads, per path (in ``seen-<path>``), and ``/vanish`` reads a request and closes the
connection without answering.  ``guarded`` needs a proxy-auth token.
"""

import asyncio
import json
import os
import signal
import socket
import threading
from collections import Counter

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

import toolkit

app = toolkit.App("hostile-more")
web = FastAPI()
COUNTER_PORT = int(os.environ.get("HOSTILE_COUNTER_PORT", "8000"))


def mark(name: str, text: str) -> None:
    with open(os.path.join(os.environ["HOSTILE_MARKS"], name), "w") as fh:
        fh.write(text)


@web.api_route("/echo", methods=["GET", "POST"])
async def echo(request: Request, id: str = "", marker: str = "") -> dict:
    """The request as the app saw it; ``marker``: marks ``<marker>`` (a request hidden elsewhere got here)."""
    if marker:
        mark(marker, str(os.getpid()))
    body = await request.body()
    return {"id": id, "body": body.decode("latin-1"), "path": request.url.path,
            "headers": [[k, v] for k, v in request.headers.items()], "pid": os.getpid()}


@web.post("/upload")
async def upload(request: Request, marker: str = "") -> dict:
    """Marks ``<marker>-pid`` on arrival; ``<marker>-whole`` with the length only when the body ended normally."""
    mark(f"{marker}-pid", str(os.getpid()))
    body = await request.body()
    mark(f"{marker}-whole", str(len(body)))
    return {"length": len(body), "pid": os.getpid()}


@web.get("/stream")
async def stream(id: str = "") -> StreamingResponse:
    """A body of unknown length, in three parts."""
    async def parts():
        for n in range(3):
            yield f"{id}:{n};".encode()
            await asyncio.sleep(0.01)

    return StreamingResponse(parts(), media_type="text/plain")


@web.get("/die-mid-stream")
async def die_mid_stream() -> StreamingResponse:
    """Part of a streamed body (the pid first), then the worker process dies."""
    async def parts():
        yield f"{os.getpid()} ".encode() + b"s" * 1000
        await asyncio.sleep(0.2)
        os.kill(os.getpid(), signal.SIGKILL)
        yield b"never"

    return StreamingResponse(parts())


@app.function()
@toolkit.concurrent(max_inputs=8)
@toolkit.asgi_app()
def site():
    return web


@app.function(min_containers=0)
@toolkit.asgi_app(requires_proxy_auth=True)
def guarded():
    return web


# -- a web_server on raw sockets ----------------------------------------------------------------------
SEEN: Counter = Counter()


def read_head(conn: socket.socket, buffer: bytes) -> tuple[bytes | None, bytes]:
    while b"\r\n\r\n" not in buffer:
        data = conn.recv(65536)
        if not data:
            return None, buffer
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return head, rest


def handle(conn: socket.socket) -> None:
    buffer = b""
    with conn:
        while True:
            head, buffer = read_head(conn, buffer)
            if head is None:
                return
            path = head.split(b" ")[1].decode("latin-1").partition("?")[0]
            SEEN[path] += 1
            with open(os.path.join(os.environ["HOSTILE_MARKS"], "seen" + path.replace("/", "-")), "a") as fh:
                fh.write("x")  # in a file too: a worker the gateway replaced takes its counts along
            if path == "/vanish":
                return  # read whole, never answered: the connection closes
            body = json.dumps(dict(SEEN)).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                         % (len(body), body))


def listen(port: int) -> None:
    server = socket.create_server(("0.0.0.0", port))
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


@app.function()
@toolkit.concurrent(max_inputs=8)
@toolkit.web_server(COUNTER_PORT, startup_timeout=10)
def counter():
    threading.Thread(target=listen, args=(COUNTER_PORT,), daemon=True).start()

"""Endpoints that outlive a short function ``timeout`` (tests/serve/test_timeout.py).

Each handler writes a marker file named by the request after its work: a marker that never
appears means the work was stopped at the timeout, not left running."""

import asyncio
import os
import time

from fastapi import FastAPI, WebSocket
from fastapi.responses import StreamingResponse

import toolkit

app = toolkit.App("timeouts")
TIMEOUT = 2


def mark(name: str) -> None:
    if name:  # written whole, then renamed: a reader never sees it half written
        path = os.path.join(os.environ["TIMEOUT_MARKS"], name)
        with open(path + ".part", "w") as fh:
            fh.write(str(os.getpid()))
        os.replace(path + ".part", path)


def begin(marker: str) -> None:
    """``<marker>.begun`` holds the pid of the worker doing the work: once that process has
    exited, the work's marker can never appear, so a test need not wait out the work."""
    mark(marker and f"{marker}.begun")


@app.function(timeout=TIMEOUT)
@toolkit.fastapi_endpoint()
def blocking(seconds: float = 0, marker: str = ""):
    begin(marker)
    time.sleep(seconds)
    mark(marker)
    return {"pid": os.getpid()}


@app.function(timeout=TIMEOUT)
@toolkit.fastapi_endpoint()
async def waiting(seconds: float = 0, marker: str = ""):
    begin(marker)
    await asyncio.sleep(seconds)
    mark(marker)
    return {"pid": os.getpid()}


@app.function(timeout=TIMEOUT)
@toolkit.concurrent(max_inputs=10)
@toolkit.fastapi_endpoint()
async def shared(seconds: float = 0, marker: str = ""):
    await asyncio.sleep(seconds)
    mark(marker)
    return {"pid": os.getpid(), "marker": marker}


web = FastAPI()


@web.get("/events")
async def events(count: int = 100, marker: str = ""):
    async def body():
        begin(marker)
        for i in range(count):
            yield f"event {i}\n"
            await asyncio.sleep(0.1)
        mark(marker)  # only when the stream ran to its end

    return StreamingResponse(body(), media_type="text/plain")


@web.get("/pid")
async def pid():
    return {"pid": os.getpid()}


@web.websocket("/ws")
async def echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        await websocket.send_text(f"echo {await websocket.receive_text()}")


@app.function(timeout=TIMEOUT)
@toolkit.asgi_app()
def site():
    return web

"""An asgi_app whose routes exercise the gateway's HTTP relay (tests/serve/test_relay.py)."""

import asyncio
import os
import time

from fastapi import FastAPI, Request, Response, WebSocket
from fastapi.responses import StreamingResponse

import toolkit

app = toolkit.App("relayed")
web = FastAPI()


@web.get("/small")
async def small(request: Request) -> dict:
    return {"path": request.url.path, "query": request.url.query, "xff": request.headers.get("x-forwarded-for"),
            "expect": request.headers.get("expect"), "host": request.headers.get("host")}


@web.api_route("/headers", methods=["GET", "POST"])
async def headers(request: Request) -> dict:
    """The request headers the app got, and the client it sees."""
    await request.body()
    return {"headers": [[k, v] for k, v in request.headers.items()], "client": request.client.host}


@web.get("/hop")
async def hop() -> Response:
    """A response with hop-by-hop headers, which the gateway must not pass on."""
    return Response(b"hop", headers={"keep-alive": "timeout=99", "connection": "x-private", "x-private": "secret",
                                     "upgrade": "h2c", "trailer": "x-sum", "x-kept": "yes"})


@web.get("/closing")
async def closing() -> Response:
    """The worker ends its connection after this response (uvicorn closes on Connection: close)."""
    return Response(f"closing {os.getpid()}".encode(), headers={"connection": "close"})


@web.get("/pid")
async def pid() -> dict:
    return {"pid": os.getpid()}


@web.get("/crash")
async def crash(after_bytes: int = 0) -> Response:
    """The worker process dies mid-request: before its response, or after part of a streamed body."""
    if not after_bytes:
        os._exit(7)

    async def body():
        yield b"x" * after_bytes
        await asyncio.sleep(0.2)
        os._exit(7)

    return StreamingResponse(body(), media_type="application/octet-stream")


@web.post("/echo")
async def echo(request: Request) -> Response:
    body = await request.body()
    return Response(body, media_type="application/octet-stream",
                    headers={"x-received": str(len(body)), "x-te": request.headers.get("transfer-encoding", ""),
                             "x-expect": request.headers.get("expect", "")})


@web.post("/upload")
async def upload(request: Request, marker: str) -> Response:
    """Reads the body; marks when the request ends, however it ends (a client gone mid-body included)."""
    try:
        return Response(str(len(await request.body())).encode())
    finally:
        mark(marker)


def mark(name: str) -> None:
    with open(os.path.join(os.environ["RELAYED_MARKS"], name), "w") as fh:
        fh.write(f"ended at {time.time()}")


@web.get("/empty")
async def empty() -> Response:
    return Response(status_code=204)


@web.get("/unchanged")
async def unchanged() -> Response:
    return Response(status_code=304, headers={"etag": '"v1"'})


@web.api_route("/big", methods=["GET", "HEAD"])
async def big(size: int, seed: int = 0) -> Response:
    return Response(pattern(size, seed), media_type="application/octet-stream")


def pattern(size: int, seed: int) -> bytes:
    """Bytes that differ from position to position, so a lost or repeated piece shows."""
    block = bytes((seed + i * 7) % 251 for i in range(251 * 16))
    return (block * (size // len(block) + 1))[:size]


@web.get("/stream")
async def stream(count: int = 5, delay: float = 0.05, marker: str = "") -> StreamingResponse:
    async def events():
        try:
            for i in range(count):
                yield f"event {i}\n"
                await asyncio.sleep(delay)
        finally:  # runs when the stream ends, and when the request is cancelled (client gone)
            if marker:
                mark(marker)

    return StreamingResponse(events(), media_type="text/plain")


@web.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    """Not relayed (the ASGI app proxies WebSockets): subprotocol, text and bytes, a close code of its own."""
    await websocket.accept(subprotocol="chat.v2" if "chat.v2" in websocket.scope["subprotocols"] else None)
    await websocket.send_text(f"got {await websocket.receive_text()}")
    await websocket.send_bytes((await websocket.receive_bytes())[::-1])
    await websocket.close(code=4001, reason="done here")


@app.function()
@toolkit.concurrent(max_inputs=100)
@toolkit.asgi_app()
def site():
    return web

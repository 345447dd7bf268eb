"""An asgi_app whose routes exercise the gateway's HTTP relay (tests/serve/test_relay.py)."""

import asyncio
import os
import time

from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

import toolkit

app = toolkit.App("relayed")
web = FastAPI()


@web.get("/small")
async def small(request: Request) -> dict:
    return {"path": request.url.path, "query": request.url.query, "xff": request.headers.get("x-forwarded-for"),
            "expect": request.headers.get("expect"), "host": request.headers.get("host")}


@web.post("/echo")
async def echo(request: Request) -> Response:
    body = await request.body()
    return Response(body, media_type="application/octet-stream",
                    headers={"x-received": str(len(body)), "x-te": request.headers.get("transfer-encoding", "")})


@web.get("/empty")
async def empty() -> Response:
    return Response(status_code=204)


@web.get("/unchanged")
async def unchanged() -> Response:
    return Response(status_code=304, headers={"etag": '"v1"'})


@web.get("/big")
async def big(size: int) -> Response:
    return Response(b"b" * size, media_type="application/octet-stream")


@web.get("/stream")
async def stream(count: int = 5, delay: float = 0.05, marker: str = "") -> StreamingResponse:
    async def events():
        try:
            for i in range(count):
                yield f"event {i}\n"
                await asyncio.sleep(delay)
        finally:  # runs when the stream ends, and when the request is cancelled (client gone)
            if marker:
                with open(os.path.join(os.environ["RELAYED_MARKS"], marker), "w") as fh:
                    fh.write(f"ended at {time.time()}")

    return StreamingResponse(events(), media_type="text/plain")


@app.function()
@toolkit.concurrent(max_inputs=100)
@toolkit.asgi_app()
def site():
    return web

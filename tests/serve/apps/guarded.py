"""An asgi_app the hostile-client tests aim at (tests/serve/test_hostile.py): one input per
worker and at most 4 workers, so that requests holding workers show at once; every route
that a smuggled request could reach leaves a mark in ``GUARDED_MARKS``."""

import asyncio
import os

from fastapi import FastAPI, Request

import toolkit

app = toolkit.App("guarded")
web = FastAPI()


def mark(name: str) -> None:
    if name:
        with open(os.path.join(os.environ["GUARDED_MARKS"], name), "w") as fh:
            fh.write(str(os.getpid()))


@web.api_route("/mark", methods=["GET", "POST", "HEAD"])
async def marked(request: Request, marker: str = "") -> dict:
    mark(marker)
    return {"query": request.url.query, "length": len(await request.body())}


@web.post("/upload")
async def upload(request: Request, marker: str = "") -> dict:
    """Reads the body; marks when the request ends, however it ends."""
    try:
        return {"length": len(await request.body())}
    finally:
        mark(marker)


@web.get("/sleep")
async def sleep(seconds: float = 0, marker: str = "") -> dict:
    mark(marker)  # on arrival: the test knows its request is inside the worker
    await asyncio.sleep(seconds)
    return {"pid": os.getpid()}


@app.function(max_containers=4)
@toolkit.asgi_app()
def site():
    return web

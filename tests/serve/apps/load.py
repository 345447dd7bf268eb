"""An endpoint that holds every request until N of them are in flight at once, for tests/serve/test_load.py."""

import asyncio
import contextlib

import toolkit

app = toolkit.App("load")


@app.function()
@toolkit.concurrent(max_inputs=1000)
@toolkit.asgi_app()
def hold():
    from fastapi import FastAPI

    web = FastAPI()
    state = {"inflight": 0, "peak": 0}
    everyone_in = asyncio.Event()

    @web.get("/")
    async def wait_for_the_others(i: int, expect: int = 1, limit_s: float = 20):
        state["inflight"] += 1
        state["peak"] = max(state["peak"], state["inflight"])
        if state["inflight"] >= expect:
            everyone_in.set()
        # answered only once `expect` requests are open together (or the limit passes)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(everyone_in.wait(), limit_s)
        seen = state["peak"]
        state["inflight"] -= 1
        if state["inflight"] == 0:  # the round is over: the next one starts afresh
            state["peak"] = 0
            everyone_in.clear()
        return {"i": i, "peak": seen}

    return web

"""Streaming: SSE from a generator, and StreamingResponse over .remote_gen() and .map()."""

import asyncio
import time

import toolkit

image = toolkit.Image.debian_slim().pip_install("fastapi[standard]")
app = toolkit.App("example-streaming", image=image)


def fake_event_streamer():
    for i in range(10):
        yield f"data: some data {i}\n\n".encode()
        time.sleep(0.5)


@app.function()
@toolkit.fastapi_endpoint()
def stream_me():
    from fastapi.responses import StreamingResponse

    return StreamingResponse(fake_event_streamer(), media_type="text/event-stream")


@app.function()
def fake_video_render():
    for i in range(10):
        yield f"data: finished processing some data {i}\n\n".encode()
        time.sleep(0.2)


@app.function()
@toolkit.fastapi_endpoint()
def hook():
    from fastapi.responses import StreamingResponse

    return StreamingResponse(fake_video_render.remote_gen(), media_type="text/event-stream")


@app.function()
def map_me(i: int) -> str:
    return f"segment {i}\n"


@app.function()
@toolkit.fastapi_endpoint()
def mapped():
    from fastapi.responses import StreamingResponse

    return StreamingResponse(map_me.map(range(10)), media_type="text/plain")


@app.function()
@toolkit.fastapi_endpoint()
async def mapped_async():
    from fastapi.responses import StreamingResponse

    async def wrapper():
        async for part in map_me.map.aio(range(10)):
            yield "data: " + part + "\n\n"
            await asyncio.sleep(0)

    return StreamingResponse(wrapper(), media_type="text/event-stream")

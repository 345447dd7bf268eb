"""A whole FastAPI app, with concurrent requests inside one worker and an ASGI lifespan."""

import toolkit

image = toolkit.Image.debian_slim().pip_install("fastapi[standard]")
app = toolkit.App("asgi-demo", image=image)


@app.function()
@toolkit.concurrent(max_inputs=100)
@toolkit.asgi_app()
def fastapi_app():
    from fastapi import FastAPI, Request

    web_app = FastAPI()

    @web_app.post("/echo")
    async def echo(request: Request):
        return await request.json()

    @web_app.get("/")
    async def root():
        return {"hello": "asgi"}

    return web_app


@app.function()
@toolkit.asgi_app(label="lifespan-demo")
def fastapi_app_with_lifespan():
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    state = {"started": 0}

    @asynccontextmanager
    async def lifespan(wapp: FastAPI):
        state["started"] += 1
        print("Starting")
        yield
        print("Shutting down")

    web_app = FastAPI(lifespan=lifespan)

    @web_app.get("/")
    async def hello():
        return {"started": state["started"]}

    return web_app

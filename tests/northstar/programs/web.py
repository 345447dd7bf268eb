"""Every kind of web endpoint in one app, as `toolkit serve` exposes them.

Pattern: ``fastapi_endpoint`` reading a query parameter, a JSON ``dict`` and a pydantic model;
``asgi_app`` returning a FastAPI app that streams another function's ``.remote_gen`` and hands out
``spawn`` ids to poll with ``FunctionCall.from_id(...).get(timeout=0)`` and reads the request's call
graph (the request is the parent of what it spawns); ``wsgi_app`` with Flask;
``web_server`` around a subprocess ``http.server``; a class whose ``@enter`` runs before its
endpoint and whose ``@exit`` runs when serve stops; ``requires_proxy_auth``; a ``Cron`` schedule and ``@concurrent`` inputs.
"""

import os
import subprocess
import time

from pydantic import BaseModel

import toolkit as modal

app = modal.App("northstar-web", image=modal.Image.debian_slim().pip_install("fastapi[standard]", "flask"))
FILES_PORT = int(os.environ.get("NORTHSTAR_FILES_PORT", "18765"))


class Order(BaseModel):
    item: str
    quantity: int


@app.function()
@modal.fastapi_endpoint()
def square(x: int):
    return {"square": x * x}


@app.function()
@modal.fastapi_endpoint(method="POST")
def echo(data: dict):
    return {"received": data}


@app.function()
@modal.fastapi_endpoint(method="POST")
def order(body: Order) -> str:
    return f"{body.quantity} x {body.item}"


@app.function()
def ticks(n: int):
    for i in range(n):
        yield f"tick {i}\n"


@app.function()
def slow_sum(n: int) -> int:
    time.sleep(1.5)
    return sum(range(n + 1))


@app.function()
@modal.concurrent(max_inputs=10)
@modal.asgi_app()
def api():
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse

    web_app = FastAPI()

    @web_app.get("/stream")
    def stream(n: int = 3):
        return StreamingResponse(ticks.remote_gen(n), media_type="text/plain")

    @web_app.get("/jobs")
    def submit(n: int):
        return RedirectResponse(f"/jobs/{slow_sum.spawn(n).object_id}", status_code=303)

    @web_app.get("/graph")
    async def spawn_under_request():
        # The request is a call: what it spawns is its child (the job-queue wrapper pattern).
        fc = slow_sum.spawn(2)
        graph = fc.get_call_graph()
        return {"me": modal.current_function_call_id(), "root": graph[0].function_call_id,
                "root_function": graph[0].function_name,
                "child_is_spawned": graph[0].children[0].function_call_id == fc.object_id, "job": fc.object_id}

    @web_app.get("/jobs/{call_id}/status")
    def status(call_id: str):
        return {"status": modal.FunctionCall.from_id(call_id).get_call_graph()[0].children[0].status.name}

    @web_app.get("/jobs/{call_id}")
    def poll(call_id: str):
        try:
            return {"result": modal.FunctionCall.from_id(call_id).get(timeout=0)}
        except TimeoutError:
            return JSONResponse({"status": "pending"}, status_code=202)

    return web_app


@app.function()
@modal.wsgi_app()
def flask_app():
    from flask import Flask, request

    web_app = Flask(__name__)

    @web_app.get("/")
    def home():
        return "flask says hi"

    @web_app.post("/json")
    def reflect():
        return {"flask_got": request.json}

    return web_app


@app.function()
@modal.web_server(FILES_PORT, startup_timeout=20)
def files():
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.Popen(["python3", "-m", "http.server", str(FILES_PORT), "--bind", "127.0.0.1", "--directory", here])


@app.cls()
class Greeter:
    @modal.enter()
    def prepare(self):
        self.greeting = "prepared hello"

    @modal.exit()
    def release(self):
        print("greeter released")

    @modal.fastapi_endpoint()
    def greet(self, name: str = "world"):
        return {"message": f"{self.greeting}, {name}"}


@app.function()
@modal.fastapi_endpoint(requires_proxy_auth=True)
def private():
    return "members only"


@app.function(schedule=modal.Cron("0 3 * * *"))
def nightly():
    print("nightly job")

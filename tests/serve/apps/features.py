"""The endpoints tests/serve/test_endpoints.py drives through a real `toolkit serve`."""

import os
import threading
import time

from fastapi import Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

import toolkit

app = toolkit.App("feat")
_barrier = threading.Barrier(3, timeout=10)


class Item(BaseModel):
    name: str
    qty: int = 1


@app.function()
@toolkit.fastapi_endpoint(docs=True)
def square(x: int, request: Request):
    return {"square": x * x, "client": request.client.host, "xff": request.headers.get("x-forwarded-for"),
            "url": square.get_web_url()}


@app.function()
@toolkit.fastapi_endpoint(method="POST")
def order(item: Item):
    return HTMLResponse(f"<p>{item.qty} x {item.name}</p>")


@app.function()
@toolkit.fastapi_endpoint(method="POST")
def size(body: dict):
    return {"keys": len(body)}


@app.function(max_containers=2)
@toolkit.fastapi_endpoint()
def serial(sleep: float = 0.3):
    started = time.monotonic()
    time.sleep(sleep)
    return {"pid": os.getpid(), "start": started, "end": time.monotonic()}


@app.function(max_containers=1)
@toolkit.concurrent(max_inputs=3)
@toolkit.fastapi_endpoint()
def together():
    _barrier.wait()  # passes only when three requests are inside this one worker at once
    return {"pid": os.getpid()}


@app.function()
@toolkit.fastapi_endpoint()
def crash(now: bool = False):
    if now:
        os._exit(7)
    return {"pid": os.getpid()}


@app.function()
@toolkit.fastapi_endpoint(requires_proxy_auth=True)
def protected():
    return "inside"


@app.cls()
class Greeter:
    greeting: str = toolkit.parameter(default="hello")
    times: int = toolkit.parameter(default=1)

    @toolkit.enter()
    def setup(self):
        self.pid = os.getpid()

    @toolkit.fastapi_endpoint()
    def greet(self, name: str = "world"):
        return {"text": " ".join([f"{self.greeting} {name}"] * self.times), "pid": self.pid}


@app.function()
@toolkit.wsgi_app()
def flask_app():
    import json

    def application(environ, start_response):  # plain WSGI: no Flask needed in the test environment
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.dumps({"got": json.loads(environ["wsgi.input"].read(length) or b"null"),
                           "remote": environ.get("REMOTE_ADDR")}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return application

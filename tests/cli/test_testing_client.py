"""`toolkit.testing.Client`: an app's endpoints and functions, in-process, from pytest."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.exception import InvalidError, NotFoundError
from toolkit.testing import Client

REPO = Path(__file__).resolve().parents[2]

APP = '''
import os

import toolkit
from fastapi import FastAPI
from pydantic import BaseModel

app = toolkit.App("testing-demo", secrets=[toolkit.Secret.from_dict({"GREETING": "hi"})])
EVENTS = []


class Item(BaseModel):
    name: str
    qty: int = 1


@app.function()
def square(x: int) -> int:
    return x * x


@app.function()
def greeting() -> str:
    return os.environ["GREETING"]


@app.function()
@toolkit.fastapi_endpoint()
def hello(name: str = "world"):
    return f"{os.environ['GREETING']} {name}"


@app.function()
@toolkit.fastapi_endpoint(method="POST")
def order(item: Item):
    return {"name": item.name, "total": item.qty * 2}


@app.function()
@toolkit.asgi_app()
def api():
    web = FastAPI(on_startup=[lambda: EVENTS.append("startup")], on_shutdown=[lambda: EVENTS.append("shutdown")])

    @web.get("/events")
    def events():
        return EVENTS

    @web.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    return web


@app.function()
@toolkit.wsgi_app()
def legacy():
    def wsgi(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"wsgi {environ['PATH_INFO']}".encode()]

    return wsgi
'''


@pytest.fixture
def app_file(tmp_path: Path) -> Path:
    path = tmp_path / "demo_app.py"
    path.write_text(APP)
    return path


def test_functions_run_in_process_with_their_secrets(app_file: Path) -> None:
    with Client.from_file(app_file) as client:
        assert client.call("square", 7) == 49
        assert client.call("greeting") == "hi"  # the app's secret, set while the function ran
    import os

    assert "GREETING" not in os.environ  # and unset afterwards


def test_endpoints_answer_through_the_runtime_adapters(app_file: Path) -> None:
    with Client.from_file(app_file) as client:
        assert client.endpoint("hello").get("/", params={"name": "ada"}).json() == "hi ada"
        order = client.endpoint("order")
        assert order.post("/", json={"name": "tea", "qty": 3}).json() == {"name": "tea", "total": 6}
        assert order.post("/", json={"qty": "many"}).status_code == 422  # validation, as over HTTP
        assert order.get("/").status_code == 405  # a POST endpoint, as serve and AWS answer
        assert client.endpoint("legacy").get("/path").text == "wsgi /path"
        api = client.endpoint("api")
        assert api.get("/events").json() == ["startup"]  # the lifespan ran before the first request
        assert api.get("/boom").status_code == 500
        module_events = client.function("api").spec.raw_f.__globals__["EVENTS"]
    assert module_events == ["startup", "shutdown"]  # closing the client shut the endpoint down


def test_misuse_names_the_fix(app_file: Path) -> None:
    with Client.from_file(app_file) as client:
        with pytest.raises(NotFoundError, match="no function 'nope'; its functions: api, greeting, hello"):
            client.call("nope")
        with pytest.raises(InvalidError, match=r"client.endpoint\('hello'\)"):
            client.call("hello")
        with pytest.raises(InvalidError, match=r"client.call\('square', ...\)"):
            client.endpoint("square")


def test_an_example_from_the_repository() -> None:
    with Client.from_file(REPO / "examples" / "simple_endpoint.py") as client:
        assert client.endpoint("hello").get("/").json() == "Hello world!"

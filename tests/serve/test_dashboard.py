"""The dashboard at the bare host of `toolkit serve`, in headless Chromium driven over the DevTools
protocol: what a person sees (apps, endpoints with method/docs/auth, workers, functions, classes,
schedules, requests, calls with a failing one's traceback, logs streaming in with a filter), and
/docs rendering Swagger UI from the serve with no internet. Screenshots are kept under the test's
tmp_path (pytest keeps the last runs' directories) and named in the assertion messages.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving import Served, served, wait_for
from websockets.sync.client import ClientConnection, connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")

SHOP = '''
import toolkit

app = toolkit.App("shop")


@app.function()
def add(a: int, b: int) -> int:
    return a + b


@app.function()
def explode(reason: str) -> None:
    raise ValueError(f"exploded: {reason}")


@app.function(schedule=toolkit.Period(hours=6))
def nightly() -> None:
    print("nightly run")


@app.cls()
class Model:
    size: int = toolkit.parameter(default=3)

    @toolkit.method()
    def predict(self, x: int) -> int:
        return x * self.size


@app.function()
@toolkit.fastapi_endpoint(docs=True)
def hello(name: str = "world"):
    print(f"hello called with name={name}")
    return {"message": f"Hello, {name}!"}


@app.function()
@toolkit.fastapi_endpoint(method="POST", requires_proxy_auth=True)
def order(item: dict):
    return {"ok": True}


@app.function()
@toolkit.fastapi_endpoint()
def start_jobs():
    good = add.spawn(2, 3)
    bad = explode.spawn("on purpose")
    good.get(timeout=30)
    return {"good": good.object_id, "bad": bad.object_id}
'''

BLOG = '''
import toolkit

app = toolkit.App("blog")


@app.function()
@toolkit.fastapi_endpoint()
def posts():
    return ["first"]
'''


class Browser:
    """One headless Chromium page, driven over the DevTools protocol on loopback."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws, self.ids = ws, itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == ident:
                assert "error" not in message, message
                result: dict[str, Any] = message["result"]
                return result

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'", f"{url} to load")

    def wait(self, expression: str, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)

    def text(self, selector: str) -> str:
        return str(self.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText ?? ''"))

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def chromium() -> Iterator[Browser]:
    assert CHROMIUM is not None
    # Chromium's helper processes (renderer, crashpad) outlive a kill of the browser alone and keep
    # writing to the profile: run it in a session of its own and stop the whole group.
    with tempfile.TemporaryDirectory(prefix="toolkit-chromium-", ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--window-size=1280,1800", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            active = Path(profile) / "DevToolsActivePort"
            wait_for(lambda: active.exists() and len(active.read_text().split()) == 2, "Chromium's DevTools port")
            port = active.read_text().split()[0]
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10, trust_env=False).json()
            page = next(t for t in targets if t["type"] == "page")
            with connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024, proxy=None) as ws:
                browser = Browser(ws)
                browser.call("Page.enable")
                yield browser
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def write_app(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return path


def exercise(shop: Served) -> None:
    """A request per kind of row: a success, a refusal, spawned calls (one fails)."""
    with shop.client("shop-hello") as client:
        assert client.get("/", params={"name": "ada"}).json() == {"message": "Hello, ada!"}
    with shop.client("shop-order") as client:
        assert client.post("/", json={"x": 1}).status_code == 401  # proxy auth: no token
    with shop.client("shop-start-jobs") as client:
        assert client.get("/", timeout=60).status_code == 200


def test_dashboard_shows_apps_endpoints_workers_calls_and_streams_logs(tmp_path: Path) -> None:
    with served(write_app(tmp_path, "blog", BLOG)) as blog, served(write_app(tmp_path, "shop", SHOP)) as shop:
        exercise(shop)
        with chromium() as browser:
            dashboard = f"http://localhost:{shop.port}/"
            browser.goto(dashboard)
            browser.wait("document.querySelectorAll('#calls tbody tr[data-call]').length >= 2", "the calls table")
            shot = browser.screenshot(tmp_path / "dashboard.png")
            where = f"(screenshot: {shot})"

            assert browser.evaluate("document.title") == "toolkit serve: shop"
            apps = browser.text("#apps")
            assert f"shop — http://localhost:{shop.port}" in apps and "(this serve)" in apps, where
            assert f"blog — http://localhost:{blog.port}" in apps, where

            endpoints = browser.evaluate(
                "[...document.querySelectorAll('#endpoints tbody tr')].map(r => [...r.cells].map(c => c.innerText))")
            rows = {row[0]: row for row in endpoints}
            hello_url = f"http://{shop.host('shop-hello')}"
            assert rows["hello"] == ["hello", "GET", hello_url, "docs", "public"], where
            assert rows["order"][1] == "POST" and rows["order"][4] == "proxy auth", where
            assert browser.evaluate("document.querySelector('#endpoints a[href$=\"/docs\"]').href") == \
                f"{hello_url}/docs", where

            pools = browser.text("#pools")
            assert "hello" in pools and "start_jobs" in pools, where
            assert "Model" in browser.text("#classes") and "predict" in browser.text("#classes"), where
            assert "nightly" in browser.text("#schedules") and "Period(hours=6)" in browser.text("#schedules"), where

            requests = browser.text("#requests")
            assert "/?name=ada" in requests and "200" in requests and "401" in requests, where

            calls = browser.evaluate(
                "[...document.querySelectorAll('#calls tbody tr')].map(r => [r.dataset.call, r.cells[1].innerText,"
                " r.cells[2].innerText])")
            statuses = {fn: (call_id, status) for call_id, fn, status in calls}
            assert statuses["add"][1] == "done" and statuses["explode"][1] == "failed", where

            # a failing call's detail: its arguments and the traceback from the worker
            browser.evaluate(f"document.querySelector('#calls tr[data-call=\"{statuses['explode'][0]}\"]').click()")
            browser.wait("!document.querySelector('#call-detail').hidden && "
                         "document.querySelector('#detail-traceback').innerText.length > 0", "the call's detail")
            assert browser.text("#detail-arguments") == "'on purpose'"
            assert browser.text("#detail-result") == "builtins.ValueError: exploded: on purpose"
            assert 'raise ValueError(f"exploded: {reason}")' in browser.text("#detail-traceback")
            browser.screenshot(tmp_path / "dashboard-failed-call.png")

            # logs: what was printed before the page loaded, then a line streamed in while it is open
            browser.wait("document.querySelector('#logs').innerText.includes('hello called with name=ada')",
                         "the earlier output")
            with shop.client("shop-hello") as client:
                client.get("/", params={"name": "streamed-later"})
            browser.wait("document.querySelector('#logs').innerText.includes('name=streamed-later')",
                         "the streamed line", timeout=20)
            browser.wait("document.querySelector('#requests').innerText.includes('streamed-later')",
                         "the streamed request row", timeout=20)
            assert "[hello] hello called with name=streamed-later" in browser.text("#logs")
            browser.evaluate("(() => { const f = document.querySelector('#log-filter'); f.value = 'ada';"
                             " f.dispatchEvent(new Event('input')); })()")
            logs = browser.text("#logs")
            assert "name=ada" in logs and "streamed-later" not in logs, where
            browser.screenshot(tmp_path / "dashboard-logs-filtered.png")


def test_docs_render_swagger_ui_from_the_serve_with_no_internet(tmp_path: Path) -> None:
    with served(write_app(tmp_path, "shop", SHOP)) as shop, chromium() as browser:
        # block every host but the serve's: a CDN would fail to load
        browser.call("Network.enable")
        browser.call("Network.setBlockedURLs", urls=["*cdn.jsdelivr.net*", "*fastapi.tiangolo.com*", "*unpkg.com*"])
        docs = f"http://{shop.host('shop-hello')}/docs"
        browser.goto(docs)
        browser.wait("!!document.querySelector('.swagger-ui .info .title')", "Swagger UI to render", timeout=60)
        browser.wait("document.querySelectorAll('.opblock').length >= 1", "the operations", timeout=30)
        shot = browser.screenshot(tmp_path / "docs.png")
        assert "GET" in browser.text(".opblock"), shot
        sources = browser.evaluate("[...document.scripts].map(s => s.src).filter(Boolean)")
        assert sources == [f"http://localhost:{shop.port}/_toolkit/static/swagger-ui-bundle.js"]


def test_bare_host_api_and_assets(tmp_path: Path) -> None:
    with served(write_app(tmp_path, "shop", SHOP)) as shop, shop.client() as client:
        assert client.get("/api/endpoints").json()[0] == {
            "function": "hello", "label": "shop-hello", "url": f"http://{shop.host('shop-hello')}"}
        page = client.get("/")
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert f'href="http://{shop.host("shop-hello")}"' in page.text  # endpoints are in the HTML itself
        assert "cdn" not in page.text.lower()
        for name in ("dashboard.js", "dashboard.css", "swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
            assert client.get(f"/_toolkit/static/{name}").status_code == 200, name
        assert client.get("/_toolkit/static/../../pyproject.toml").status_code == 404
        assert client.get("/_toolkit/static/registry.py").status_code == 404
        assert client.get("/api/calls/fc-nonesuch").status_code == 404
        assert client.get("/api/calls/not-a-call").status_code == 404


def test_events_stream_each_request_and_output_line(tmp_path: Path) -> None:
    with served(write_app(tmp_path, "shop", SHOP)) as shop, shop.client() as client:
        events: list[dict[str, Any]] = []
        with client.stream("GET", "/api/events", timeout=30) as stream:
            lines = stream.iter_lines()
            assert next(lines) == ": live"
            with shop.client("shop-hello") as app_client:
                app_client.get("/", params={"name": "sse"})
            for line in lines:
                if line.startswith("data: "):
                    events.append(json.loads(line.removeprefix("data: ")))
                if {e["type"] for e in events} == {"request", "log"}:
                    break
        request = next(e for e in events if e["type"] == "request")
        assert (request["function"], request["method"], request["path"], request["status"]) == \
            ("hello", "GET", "/?name=sse", 200)
        log = next(e for e in events if e["type"] == "log")
        assert (log["function"], log["line"]) == ("hello", "hello called with name=sse")

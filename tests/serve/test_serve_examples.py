"""The guide's examples, served as written, each through a real `toolkit serve` and real clients."""

from __future__ import annotations

import subprocess

import pytest
from serve.serving import REPO, served

from toolkit.serve.routes import BadHostError, host_label

EXAMPLES = REPO / "examples"


def test_asgi_app_echo_and_lifespan_once_per_worker_with_shutdown_on_stop() -> None:
    with served(EXAMPLES / "asgi_fastapi.py") as server:
        assert server.client("asgi-demo-fastapi-app").post("/echo", json={"n": [1, 2]}).json() == {"n": [1, 2]}
        lifespan = server.client("lifespan-demo")
        assert [lifespan.get("/").json() for _ in range(3)] == [{"started": 1}] * 3
        assert "Starting" in server.output() and "Shutting down" not in server.output()
        output = server.stop()
    assert output.count("Starting") == 1 and "Shutting down" in output


def test_wsgi_example() -> None:
    with served(EXAMPLES / "wsgi_app.py") as server:
        body = server.client("wsgi-demo-wsgi-echo").post("/p?q=1", content=b"hello").json()
    assert body == {"method": "POST", "path": "/p", "query": "q=1", "body": "hello"}


def test_query_post_and_url_examples() -> None:
    with served(EXAMPLES / "query_params.py") as server:
        assert server.client("web-endpoint-square").get("/?x=42").json() == {"square": 1764}
    with served(EXAMPLES / "post_json.py") as server:
        assert server.client("web-demo-square").post("/", json={"x": 42}).json() == {"square": 1764}
        assert server.client("web-demo-greet").post("/", json={"name": "Erik", "qty": 10}).text == \
            "<html>Hello, Erik! (10)</html>"
    with served(EXAMPLES / "urls_and_domains.py") as server:
        assert server.client("text-to-speech-show-url").get("/").json() == f"http://{server.host('text-to-speech-show-url')}"
        assert server.client("speechify").get("/").json() == "speechify"
        assert "swagger" in server.client("text-to-speech-show-url").get("/docs").text.lower()


def test_curl_reaches_an_endpoint_by_its_printed_url() -> None:
    with served(EXAMPLES / "simple_endpoint.py") as server:
        url = f"http://{server.host('simple-endpoint-hello')}/"
        result = subprocess.run(["curl", "-s", "--resolve", f"{server.host('simple-endpoint-hello')}:127.0.0.1", url],
                                capture_output=True, text=True, timeout=30)
    if result.returncode == 2 and "resolve" in result.stderr:
        pytest.fail(f"curl could not run: {result.stderr}")
    assert result.stdout == '"Hello world!"'


@pytest.mark.parametrize(("header", "label"), [
    ("default--app-f-dev.localhost:8000", "default--app-f-dev"),
    ("DEFAULT--App-F-dev.localhost", "default--app-f-dev"),
    ("default--app-f-dev.lvh.me:80", "default--app-f-dev"),
    ("localhost:8000", None), ("127.0.0.1:8000", None), ("[::1]:8000", None), ("localhost", None),
])
def test_host_label(header: str, label: str | None) -> None:
    assert host_label(header) == label


@pytest.mark.parametrize("header", [None, "", "a b.localhost", "x/y.localhost", "user@host", ".localhost", "a:b:c"])
def test_bad_host(header: str | None) -> None:
    with pytest.raises(BadHostError):
        host_label(header)


def test_web_server_example_serves_files_as_written() -> None:
    with served(EXAMPLES / "web_server.py") as server, server.client("file-server-my-file-server") as client:
        listing = client.get("/", timeout=60)
        assert listing.status_code == 200 and "etc/" in listing.text  # python -m http.server -d /


def test_parametrized_example_picks_root_from_the_query() -> None:
    with served(EXAMPLES / "parametrized.py") as server, server.client("param-server-server-files") as client:
        default = client.get("/", timeout=60)
        assert default.status_code == 200 and "pyproject.toml" in default.text  # root="." is the repo
        etc = client.get("/", params={"root": "/etc"}, timeout=60)
        assert etc.status_code == 200 and "passwd" in etc.text and "pyproject.toml" not in etc.text

"""One `toolkit serve` of apps/features.py: routing, the index, every fastapi/asgi/wsgi behaviour,
concurrency and scaling, class parameters, crashes, body limits and proxy auth."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from serve.serving import APPS, Served, served, toolkit_cli

MAX_BODY = 4096


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    with served(APPS / "features.py", "--max-body-size", str(MAX_BODY)) as running:
        yield running


def test_cli_prints_every_url(server: Served) -> None:
    out = server.output()
    for label in ("feat-square", "feat-order", "feat-greeter-greet", "feat-flask-app"):
        assert f"http://{server.host(label)}" in out.replace("127.0.0.1", "localhost")


def test_api_endpoints_lists_function_label_url(server: Served) -> None:
    listed = server.client().get("/api/endpoints").json()
    square = next(e for e in listed if e["function"] == "square")
    assert square == {"function": "square", "label": "feat-square", "url": f"http://{server.host('feat-square')}"}
    assert {e["function"] for e in listed} >= {"Greeter.greet", "flask_app", "protected"}


def test_bare_host_serves_html_index(server: Served) -> None:
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}"):
        page = server.client(headers={"Host": host}).get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert f'href="http://{server.host("feat-order")}"' in page.text


def test_unknown_label_is_404_with_the_list_url(server: Served) -> None:
    response = server.client("no-such-thing").get("/")
    assert response.status_code == 404
    assert f"http://localhost:{server.port}/" in response.text


@pytest.mark.parametrize("host", ["exa mple.localhost", "a:b:c", "@evil"])
def test_malformed_host_is_400(server: Served, host: str) -> None:
    response = server.client(headers={"Host": host}).get("/")
    assert response.status_code == 400, response.text


def test_query_parameters_are_typed(server: Served) -> None:
    client = server.client("feat-square")
    assert client.get("/", params={"x": 42}).json()["square"] == 1764
    bad = client.get("/", params={"x": "abc"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "x"]


def test_app_sees_client_ip_forwarded_for_and_its_local_url(server: Served) -> None:
    body = server.client("feat-square", headers={"X-Forwarded-For": "203.0.113.9"}).get("/?x=1").json()
    assert body["client"] == "127.0.0.1"
    assert body["xff"] == "203.0.113.9, 127.0.0.1"  # the gateway appends the peer it saw
    assert body["url"] == f"http://{server.host('feat-square')}"


def test_docs_page_when_docs_true(server: Served) -> None:
    client = server.client("feat-square")
    assert "swagger" in client.get("/docs").text.lower()
    assert client.get("/openapi.json").json()["paths"]["/"]["get"]
    assert server.client("feat-order").get("/docs").status_code == 404


def test_post_pydantic_model_and_html_response(server: Served) -> None:
    client = server.client("feat-order")
    ok = client.post("/", json={"name": "tea", "qty": 2})
    assert ok.status_code == 200 and ok.text == "<p>2 x tea</p>" and ok.headers["content-type"].startswith("text/html")
    assert client.post("/", json={"qty": "many"}).status_code == 422
    assert client.get("/").status_code == 405


def test_post_dict(server: Served) -> None:
    assert server.client("feat-size").post("/", json={"a": 1, "b": [2]}).json() == {"keys": 2}


def test_body_over_limit_is_413_declared_or_chunked(server: Served) -> None:
    client = server.client("feat-size")
    declared = client.post("/", content=b"x" * (MAX_BODY + 1), headers={"content-type": "application/json"})
    assert declared.status_code == 413 and f"{MAX_BODY} byte limit" in declared.text

    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"y" * 1024

    chunked = client.post("/", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413 and "exceeds" in chunked.text


def test_wsgi_app_echoes_and_sees_client(server: Served) -> None:
    body = server.client("feat-flask-app").post("/echo", json={"k": "v"}).json()
    assert body == {"got": {"k": "v"}, "remote": "127.0.0.1"}


def test_without_concurrent_one_request_per_worker_up_to_max_containers(server: Served) -> None:
    client = server.client("feat-serial")
    with ThreadPoolExecutor(6) as pool:
        results = [r.json() for r in pool.map(lambda _: client.get("/?sleep=0.4"), range(6))]
    by_pid: dict[int, list[tuple[float, float]]] = {}
    for r in results:
        by_pid.setdefault(r["pid"], []).append((r["start"], r["end"]))
    assert len(by_pid) == 2  # max_containers=2: the other four requests queued
    for spans in by_pid.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), "a worker ran two requests at once"


def test_concurrent_max_inputs_runs_requests_together_in_one_worker(server: Served) -> None:
    client = server.client("feat-together")
    with ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(lambda _: client.get("/"), range(3)))
    assert [r.status_code for r in responses] == [200] * 3
    assert len({r.json()["pid"] for r in responses}) == 1


def test_class_parameters_from_query_each_set_its_own_pool(server: Served) -> None:
    client = server.client("feat-greeter-greet")
    default = client.get("/").json()
    custom = client.get("/", params={"greeting": "hi", "times": 2, "name": "bob"}).json()
    again = client.get("/", params={"greeting": "hi", "times": 2}).json()
    assert default["text"] == "hello world" and custom["text"] == "hi bob hi bob"
    assert custom["pid"] == again["pid"] != default["pid"]
    bad = client.get("/", params={"times": "two"})
    assert bad.status_code == 400 and "times" in bad.text


def test_worker_crash_mid_request_is_500_and_worker_replaced(server: Served) -> None:
    client = server.client("feat-crash")
    before = client.get("/").json()["pid"]
    crashed = client.get("/?now=true")
    assert crashed.status_code == 500 and "stopped while handling this request" in crashed.text
    after = client.get("/").json()["pid"]
    assert after != before


def test_proxy_auth_needs_a_valid_token_pair(server: Served) -> None:
    client = server.client("feat-protected")
    missing = client.get("/")
    assert missing.status_code == 401 and "Toolkit-Key" in missing.text
    created = toolkit_cli("token", "create")
    assert created.returncode == 0, created.stderr
    lines = dict(line.split(": ", 1) for line in created.stdout.strip().splitlines())
    key, secret = lines["Toolkit-Key"], lines["Toolkit-Secret"]
    assert client.get("/", headers={"Toolkit-Key": key, "Toolkit-Secret": secret}).json() == "inside"
    wrong = client.get("/", headers={"Toolkit-Key": key, "Toolkit-Secret": secret[:-1] + "x"})
    assert wrong.status_code == 401
    assert toolkit_cli("token", "revoke", key).returncode == 0
    assert client.get("/", headers={"Toolkit-Key": key, "Toolkit-Secret": secret}).status_code == 401


def test_token_store_is_hashed_and_private() -> None:
    created = toolkit_cli("token", "create")
    secret = created.stdout.split("Toolkit-Secret: ")[1].strip()
    path = os.path.join(os.environ["TOOLKIT_HOME"], "tokens.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as fh:
        assert secret not in fh.read()
    listed = toolkit_cli("token", "list")
    key = created.stdout.split("Toolkit-Key: ")[1].split()[0]
    assert key in listed.stdout and secret not in listed.stdout
    unknown = toolkit_cli("token", "revoke", "tk-nope")
    assert unknown.returncode == 1 and "No token 'tk-nope'" in unknown.stderr and "Traceback" not in unknown.stderr


def test_endpoint_requests_are_http_not_python_calls(server: Served) -> None:
    # a web endpoint reached through the gateway keeps HTTP semantics end to end (HEAD, 405)
    assert server.client("feat-size").get("/").status_code == 405
    with pytest.raises(httpx.HTTPStatusError):
        server.client("feat-size").get("/").raise_for_status()


def test_gateway_listening_socket_disables_nagle() -> None:
    # Nagle + delayed ACKs held each response body back ~40 ms (the head and body are separate
    # writes); accepted connections inherit TCP_NODELAY from the listening socket.  The added
    # latency itself is measured, not asserted, by bench/bench_serve.py.
    import socket

    from toolkit.serve.server import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        sock.close()

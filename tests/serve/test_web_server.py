"""web_server endpoints behind the gateway: HTTP both ways, X-Forwarded-For, WebSockets, startup
timeouts, and parametrized servers that share a port."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from serve.serving import APPS, Served, free_port, served


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    ports = {f"SERVERS_PORT_{k}": str(free_port()) for k in "ABC"}
    with served(APPS / "servers.py", env=ports) as running:
        yield running


def test_http_is_proxied_with_forwarded_for_and_host(server: Served) -> None:
    body = server.client("servers-echo").get("/some/path", params={"q": "1"}).json()
    assert body["name"] == "echo" and body["path"] == "/some/path" and body["query"] == "q=1"
    assert body["xff"] == "127.0.0.1" and body["host"] == server.host("servers-echo")


def test_request_body_streams_to_the_server(server: Served) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"z" * 16384

    assert server.client("servers-echo").post("/upload", content=chunks()).json()["received"] == 64 * 16384


def test_websocket_through_web_server(server: Served) -> None:
    async def talk() -> list[str]:
        async with server.websocket("servers-echo", "/ws") as ws:
            replies = []
            for word in ("a", "b"):
                await ws.send(word)
                replies.append(str(await ws.recv()))
            return replies

    assert asyncio.run(talk()) == ["echo: a", "echo: b"]


def test_server_that_never_listens_gets_a_startup_error_naming_the_fix(server: Served) -> None:
    response = server.client("servers-never-listens").get("/")
    assert response.status_code == 500
    assert "0.0.0.0" in response.text and "startup_timeout" in response.text


def test_parametrized_servers_take_turns_on_their_port(server: Served) -> None:
    client = server.client("servers-named-serve")
    assert client.get("/").json()["name"] == "first"
    assert client.get("/", params={"name": "second"}).json()["name"] == "second"
    assert client.get("/").json()["name"] == "first"

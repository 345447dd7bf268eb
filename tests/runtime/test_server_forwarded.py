"""The ECS entrypoint's uvicorn settings (`runtime.server.server_config`) against forged
forwarding headers, on a real server on loopback: the client address an app sees is the one the
load balancer appended, never one the client wrote into X-Forwarded-For itself."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from loopback import free_port

from runtime.server import server_config
from runtime.types import Receive, Scope, Send


async def client_of(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = json.dumps({"client": scope["client"][0], "scheme": scope["scheme"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    chosen = free_port()
    server = uvicorn.Server(server_config(client_of, chosen, host="127.0.0.1"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield chosen
    server.should_exit = True
    thread.join(10)


def seen(port: int, *headers: str) -> dict[str, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + "".join(h + "\r\n" for h in headers)
                      + "\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    result: dict[str, str] = json.loads(data.partition(b"\r\n\r\n")[2])
    return result


def test_the_client_is_the_address_the_load_balancer_appended(port: int) -> None:
    # the client wrote 6.6.6.6; the ALB (a private address, here loopback) appended the real one
    assert seen(port, "X-Forwarded-For: 6.6.6.6, 203.0.113.7", "X-Forwarded-Proto: https") == {
        "client": "203.0.113.7", "scheme": "https"}
    # a forged list through a chain of private hops still ends at the first public address from the right
    assert seen(port, "X-Forwarded-For: 6.6.6.6, 203.0.113.7, 10.0.3.4")["client"] == "203.0.113.7"
    assert seen(port, "X-Forwarded-For: 198.51.100.9")["client"] == "198.51.100.9"

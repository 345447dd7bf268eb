"""The gateway's HTTP relay (`toolkit.serve.relay`) on the wire: a real `toolkit serve` of
tests/serve/apps/relayed.py, raw sockets where the bytes matter, httpx elsewhere."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve.rawhttp import RawConnection, chunked, request
from serve.serving import APPS, Served, served, wait_for
from websockets.exceptions import ConnectionClosed

from toolkit.serve.uvicorn_bridge import PRIVATE_NAMES, TESTED_UVICORN, UvicornMismatchError, check_uvicorn

LABEL = "relayed-site"
MiB = 1024 * 1024


def pattern(size: int, seed: int = 0) -> bytes:  # as the app's /big makes it
    block = bytes((seed + i * 7) % 251 for i in range(251 * 16))
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture(scope="module")
def marks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("relayed-marks")


@pytest.fixture(scope="module")
def server(marks: Path) -> Iterator[Served]:
    with served(APPS / "relayed.py", env={"RELAYED_MARKS": str(marks)}) as running:
        running.client(LABEL).get("/small").raise_for_status()  # the worker is up
        yield running


@pytest.fixture()
def host(server: Served) -> str:
    return server.host(LABEL)


def healthy(server: Served) -> None:
    """The gateway still answers, on a fresh connection, through the relay."""
    response = server.client(LABEL, timeout=10).get("/small", params={"after": "x"})
    assert response.status_code == 200 and response.json()["query"] == "after=x"


# -- framing ----------------------------------------------------------------------------------------
def test_pipelined_requests_are_answered_in_order(server: Served, host: str) -> None:
    body = b"pipelined body"
    requests = [
        request("GET", "/small?n=1", host),
        request("POST", "/echo", host, [("Content-Length", str(len(body)))], body),
        request("GET", "/", f"127.0.0.1:{server.port}"),  # the index: the ASGI app, between relayed requests
        request("HEAD", "/big?size=3000", host),
        request("POST", "/echo", host, [("Transfer-Encoding", "chunked")], chunked(b"ab", b"cde")),
        request("GET", "/stream?count=3&delay=0.01", host),
        request("GET", "/small?n=7", host),
    ]
    with RawConnection(server.port) as conn:
        conn.send(b"".join(requests))
        first = conn.read_response()
        echoed = conn.read_response()
        index = conn.read_response()
        head = conn.read_response(head_only=True)
        chunk_echo = conn.read_response()
        stream = conn.read_response()
        last = conn.read_response()
    assert json.loads(first.body)["query"] == "n=1"
    assert echoed.body == body and echoed.header("x-received") == str(len(body))
    assert index.status == 200 and (index.header("content-type") or "").startswith("text/html")
    assert head.status == 200 and head.header("content-length") == "3000"
    assert chunk_echo.body == b"abcde"
    assert stream.body == b"event 0\nevent 1\nevent 2\n"
    assert json.loads(last.body)["query"] == "n=7"


def test_chunked_request_body_reaches_the_app_whole(server: Served, host: str) -> None:
    pieces = [os.urandom(n) for n in (1, 100, 70_000, 3)]
    with RawConnection(server.port) as conn:
        conn.send(request("POST", "/echo", host, [("Transfer-Encoding", "chunked")]))
        for piece in pieces:  # one write per chunk, with pauses: the relay forwards them as they come
            conn.send(chunked(piece)[:-5])
            time.sleep(0.02)
        conn.send(b"0\r\n\r\n")
        response = conn.read_response()
    assert response.status == 200
    assert response.body == b"".join(pieces) and response.header("x-te") == "chunked"


def test_chunked_body_from_httpx(server: Served) -> None:
    def parts() -> Iterator[bytes]:
        yield b"one-"
        yield b"two-"
        yield b"three"

    response = server.client(LABEL).post("/echo", content=parts())
    assert response.content == b"one-two-three" and response.headers["x-received"] == "13"


def test_large_request_and_response_bodies_are_byte_exact(server: Served) -> None:
    upload = os.urandom(12 * MiB)
    with server.client(LABEL, timeout=60) as client:
        echoed = client.post("/echo", content=upload)
        assert echoed.status_code == 200 and echoed.headers["x-received"] == str(len(upload))
        assert hashlib.sha256(echoed.content).digest() == hashlib.sha256(upload).digest()

        size = 9 * MiB + 17
        big = client.get("/big", params={"size": size, "seed": 3})
        assert big.headers["content-length"] == str(size)
        assert big.content == pattern(size, 3)

        with client.stream("GET", "/big", params={"size": size, "seed": 5}) as streamed:  # read slowly
            received = bytearray()
            for piece in streamed.iter_raw(64 * 1024):
                received += piece
                if len(received) < 2 * MiB:
                    time.sleep(0.002)
        assert bytes(received) == pattern(size, 5)


def test_head_has_the_length_and_no_body(server: Served, host: str) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("HEAD", "/big?size=123456", host) + request("GET", "/small?n=after-head", host))
        head = conn.read_response(head_only=True)
        after = conn.read_response()  # would be garbage if a body had followed the HEAD response
    assert head.status == 200 and head.header("content-length") == "123456"
    assert json.loads(after.body)["query"] == "n=after-head"


@pytest.mark.parametrize(("path", "status"), [("/empty", 204), ("/unchanged", 304)])
def test_no_body_statuses(server: Served, host: str, path: str, status: int) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("GET", path, host) + request("GET", "/small?n=next", host))
        response = conn.read_response()
        after = conn.read_response()
    assert response.status == status
    assert response.header("transfer-encoding") is None
    assert response.header("content-length") in (None, "0")
    assert json.loads(after.body)["query"] == "n=next"
    if status == 304:
        assert response.header("etag") == '"v1"'


# -- connection life --------------------------------------------------------------------------------
def test_connection_close_from_the_client(server: Served, host: str) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("GET", "/small?n=1", host, [("Connection", "close")]))
        response = conn.read_response()
        assert response.status == 200 and response.header("connection") == "close"
        assert conn.at_eof()
    with RawConnection(server.port) as conn:  # a streamed response too: it ends with the connection
        conn.send(request("GET", "/stream?count=2&delay=0.01", host, [("Connection", "close")]))
        response = conn.read_response()
        assert response.body == b"event 0\nevent 1\n" and response.complete
        assert conn.at_eof()


def test_connection_close_from_the_worker_is_not_passed_to_the_client(server: Served, host: str) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("GET", "/closing", host))
        closing = conn.read_response()
        assert closing.status == 200 and closing.body.startswith(b"closing")
        assert closing.header("connection") is None  # hop-by-hop: the client's connection stays open
        for n in range(3):  # the worker's closed connection is not reused: the next requests work
            conn.send(request("GET", f"/small?n={n}", host))
            assert json.loads(conn.read_response().body)["query"] == f"n={n}"


def test_http_1_0(server: Served, host: str) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("GET", "/small?n=10", host, version="1.0"))
        response = conn.read_response()
        assert response.status == 200 and json.loads(response.body)["query"] == "n=10"
        assert response.header("transfer-encoding") is None
        assert conn.at_eof()
    with RawConnection(server.port) as conn:  # a streamed body: no chunked coding for 1.0, it ends at close
        conn.send(request("GET", "/stream?count=3&delay=0.01", host, version="1.0"))
        response = conn.read_response()
        assert response.header("transfer-encoding") is None and response.header("content-length") is None
        assert response.body == b"event 0\nevent 1\nevent 2\n"
    with RawConnection(server.port) as conn:
        body = b"ten bytes!"
        conn.send(request("POST", "/echo", host, [("Content-Length", "10")], body, version="1.0"))
        assert conn.read_response().body == body
        assert conn.at_eof()


def test_expect_100_continue(server: Served, host: str) -> None:
    body = os.urandom(200_000)
    with RawConnection(server.port) as conn:
        conn.send(request("POST", "/echo", host, [("Content-Length", str(len(body))), ("Expect", "100-continue")]))
        interim = conn.read_head()
        assert interim.status == 100  # the gateway asks for the body before it is sent
        conn.send(body)
        response = conn.read_response()
        assert response.status == 200 and response.body == body
        assert response.header("x-expect") == ""  # answered by the gateway, not passed to the app
        conn.send(request("GET", "/small?n=after", host))
        assert json.loads(conn.read_response().body)["query"] == "n=after"


def test_expect_100_continue_with_a_body_over_the_limit_gets_413_not_100(server: Served, host: str) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("POST", "/echo", host, [("Content-Length", str(64 * MiB)), ("Expect", "100-continue")]))
        response = conn.read_response()
    assert response.status == 413 and b"toolkit serve" in response.body


def test_absolute_form_target(server: Served, host: str) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("GET", f"http://{host}/small?a=1&b=%20x", host))
        response = conn.read_response()
    assert response.status == 200
    answer = json.loads(response.body)
    assert answer["path"] == "/small" and answer["query"] == "a=1&b=%20x"


@pytest.mark.parametrize("garbage", [
    b"NOT HTTP AT ALL\r\n\r\n",
    b"GET /small HTTP/1.1\r\nHost: %s\r\nContent-Length: nope\r\n\r\n",
    b"GET /small HTTP/1.1\r\nHost: %s\r\nBad Header Name: x\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: %s\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabc",
])
def test_malformed_requests_get_400_and_the_gateway_keeps_serving(server: Served, host: str, garbage: bytes) -> None:
    with RawConnection(server.port) as conn:
        conn.send(garbage.replace(b"%s", host.encode()))
        response = conn.read_response()
        assert response.status == 400
        assert conn.at_eof()
    healthy(server)


def test_malformed_chunked_body_mid_relay(server: Served, host: str, marks: Path) -> None:
    """The request reached the worker before its body turned out broken: 400, and the worker's
    request ends there (it is not left waiting for the rest of the body until its timeout)."""
    with RawConnection(server.port) as conn:
        conn.send(request("POST", "/upload?marker=broken-body", host, [("Transfer-Encoding", "chunked")])
                  + b"5\r\nhello\r\n")
        time.sleep(0.3)  # relayed by now
        assert not (marks / "broken-body").exists()  # the worker waits for the rest
        conn.send(b"zz-not-a-size\r\n")
        response = conn.read_response()
        assert response.status == 400
    wait_for(lambda: (marks / "broken-body").exists(), "the worker's request to end")
    healthy(server)


def test_client_leaving_mid_request_body_ends_the_worker_request(server: Served, host: str, marks: Path) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("POST", "/upload?marker=half-body", host, [("Content-Length", "100000")]) + b"x" * 5000)
        time.sleep(0.3)
    wait_for(lambda: (marks / "half-body").exists(), "the worker's request to end")
    healthy(server)


def test_responses_pipelined_before_a_malformed_request_come_before_its_400(server: Served, host: str) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("GET", "/small?n=1", host) + b"BROKEN\r\n\r\n" + request("GET", "/small?n=2", host))
        first = conn.read_response()
        assert json.loads(first.body)["query"] == "n=1"
        assert conn.read_response().status == 400
        assert conn.at_eof()
    healthy(server)


def test_client_leaving_mid_response(server: Served, host: str, marks: Path) -> None:
    """A client that leaves a long response: the stream is stopped in the worker, the gateway
    stays healthy, and the next request on the same worker gets a clean connection."""
    with RawConnection(server.port) as conn:
        conn.send(request("GET", "/stream?count=100000&delay=0.01&marker=left", host))
        head = conn.read_head()
        assert head.status == 200
        conn.sock.recv(10)
    wait_for(lambda: (marks / "left").exists(), "the worker to end the stream its client left")
    with RawConnection(server.port) as conn:
        conn.send(request("GET", "/big?size=3000000", host))
        conn.read_head()
        conn.sock.recv(1000)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
    for n in range(5):
        with RawConnection(server.port) as conn:
            conn.send(request("GET", f"/small?n={n}", host))
            assert json.loads(conn.read_response().body)["query"] == f"n={n}"
    assert server.client(LABEL).get("/big", params={"size": 1000}).content == pattern(1000)


def test_client_leaving_before_the_response_lets_the_request_finish(server: Served, host: str, marks: Path) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("GET", "/stream?count=1&delay=0.5&marker=before", host))
    wait_for(lambda: (marks / "before").exists(), "the request to finish")
    healthy(server)


# -- headers ----------------------------------------------------------------------------------------
def test_hop_by_hop_request_headers_are_not_forwarded(server: Served, host: str) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("GET", "/headers", host, [
            ("Connection", "keep-alive, X-Secret-Hop"), ("Keep-Alive", "timeout=5"), ("X-Secret-Hop", "1"),
            ("TE", "trailers"), ("Trailer", "x-sum"), ("Proxy-Authorization", "Basic eA=="), ("Upgrade", "h2c"),
            ("X-End-To-End", "kept")]))
        response = conn.read_response()
    names = {name for name, _ in json.loads(response.body)["headers"]}
    assert "x-end-to-end" in names
    assert not names & {"connection", "keep-alive", "x-secret-hop", "te", "trailer", "proxy-authorization",
                        "upgrade"}


def test_hop_by_hop_response_headers_are_not_relayed(server: Served, host: str) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("GET", "/hop", host))
        response = conn.read_response()
        assert response.body == b"hop" and response.header("x-kept") == "yes"
        names = {name for name, _ in response.headers}
        assert not names & {"keep-alive", "x-private", "upgrade", "trailer"}
        assert response.header("connection") is None
        conn.send(request("GET", "/small?n=still-open", host))
        assert json.loads(conn.read_response().body)["query"] == "n=still-open"


def test_forwarded_headers_reach_the_app(server: Served) -> None:
    answer = server.client(LABEL, headers={"X-Forwarded-For": "203.0.113.9"}).get("/headers").json()
    headers = dict(answer["headers"])
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"  # the gateway appends its peer
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == server.host(LABEL) == headers["host"]
    assert answer["client"] == "127.0.0.1"  # the last entry: the peer the gateway saw, not a forged one


def test_forged_forwarded_proto_and_host_are_replaced(server: Served) -> None:
    client = server.client(LABEL, headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
    headers = client.get("/headers").json()["headers"]
    assert [v for k, v in headers if k == "x-forwarded-proto"] == ["http"]
    assert [v for k, v in headers if k == "x-forwarded-host"] == [server.host(LABEL)]


# -- the worker failing -----------------------------------------------------------------------------
def test_worker_crash_before_the_response_is_a_500_and_the_next_request_is_served(server: Served) -> None:
    client = server.client(LABEL)
    before = client.get("/pid").json()["pid"]
    crashed = client.get("/crash")
    assert crashed.status_code == 500
    assert crashed.text == ("The worker serving site stopped while handling this request (it crashed or exited); "
                            "the next request starts a new one.")
    after = client.get("/pid")
    assert after.status_code == 200 and after.json()["pid"] != before


def test_worker_crash_mid_body_cuts_the_response_and_the_next_request_is_served(server: Served, host: str) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request("GET", "/crash?after_bytes=5000", host))
        response = conn.read_response()
        assert response.status == 200 and not response.complete  # a started response cannot become a 500
        assert response.body == b"x" * 5000
    healthy(server)
    assert server.client(LABEL).get("/pid").status_code == 200


def test_the_relay_serves_httpx_concurrently(server: Served) -> None:
    async def many() -> list[httpx.Response]:
        async with server.async_client(LABEL) as client:
            return await asyncio.gather(*(client.get("/small", params={"n": i}) for i in range(50)))

    responses = asyncio.run(many())
    assert [r.json()["query"] for r in responses] == [f"n={i}" for i in range(50)]


def test_websockets_beside_the_relay_keep_subprotocol_message_types_and_close_code(server: Served) -> None:
    async def talk() -> tuple[str | None, object, object, ConnectionClosed]:
        async with server.websocket(LABEL, "/ws", subprotocols=["chat.v1", "chat.v2"]) as ws:
            await ws.send("hi")
            text = await ws.recv()
            await ws.send(b"abc")
            data = await ws.recv()
            try:
                await ws.recv()
            except ConnectionClosed as closed:
                return ws.subprotocol, text, data, closed
        raise AssertionError("the worker's close did not reach the client")

    subprotocol, text, data, closed = asyncio.run(talk())
    assert subprotocol == "chat.v2" and text == "got hi" and data == b"cba"
    assert closed.rcvd is not None and (closed.rcvd.code, closed.rcvd.reason) == (4001, "done here")


# -- uvicorn's private API --------------------------------------------------------------------------
def test_the_bridge_finds_what_it_uses_in_the_installed_uvicorn() -> None:
    check_uvicorn()  # else: UvicornMismatchError naming each moved name, and the tested range to install


def test_a_moved_uvicorn_name_is_named_with_the_fix() -> None:
    moved = {**PRIVATE_NAMES, "HttpToolsProtocol attributes": ("parser", "renamed_in_a_later_release")}
    with pytest.raises(UvicornMismatchError) as caught:
        check_uvicorn(moved)
    message = str(caught.value)
    assert "HttpToolsProtocol attributes: renamed_in_a_later_release" in message and "parser" not in message
    assert f"uvicorn{TESTED_UVICORN}" in message and "toolkit/serve/uvicorn_bridge.py" in message


# -- telling a dead worker from a live one ------------------------------------------------------------
def own_stat_with_flags(flags: int) -> bytes:
    """This process's real /proc stat line, its flags field (the 9th) replaced, its name given spaces
    and a ")" as a worker's may have."""
    with open("/proc/self/stat", "rb") as stat:
        line = stat.read()
    head, _, rest = line.rpartition(b")")
    fields = rest.split()
    fields[6] = str(flags).encode()
    return head.split(b"(")[0] + b"(py thon) x)" + b" " + b" ".join(fields)


def test_an_exiting_worker_counts_as_gone_before_it_is_a_zombie() -> None:
    # the kernel closes a dying process's sockets before it turns zombie; in that window only
    # PF_EXITING in the flags tells the relay that the worker must get no more requests
    from toolkit.serve.relay import PF_EXITING, process_gone, stat_says_exited

    assert not stat_says_exited(own_stat_with_flags(0x400040))
    assert stat_says_exited(own_stat_with_flags(0x400040 | PF_EXITING))
    assert not process_gone(os.getpid())
    child = os.fork()
    if child == 0:
        os._exit(0)
    wait_for(lambda: process_gone(child), "the child to exit", timeout=10)  # a zombie, not yet reaped
    os.waitpid(child, 0)
    assert process_gone(child)

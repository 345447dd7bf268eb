"""`toolkit serve` against hostile or unlucky clients and workers, second round: raw sockets on
loopback, every read bounded.

What test_hostile.py does not cover: an ``Expect: 100-continue`` body that never comes on the
gateway's own (ASGI) side, a request replayed to a web_server that read it, a worker killed
while a body streams to it, a chunked upload over the body limit, ``Expect`` to a cold
endpoint; then smuggling and header-injection variants, absolute-form and percent-encoded
targets, and many clients at once, each of which must get its own response.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import select
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve.rawhttp import ANSWER_WITHIN_S, RawConnection, RawResponse, exchange, request
from serve.serving import APPS, Served, free_port, served, wait_for

LIMITS = {  # short client limits, so that the slow clients below are cut off within seconds
    "TOOLKIT_SERVE_HEADER_TIMEOUT": "2", "TOOLKIT_SERVE_BODY_TIMEOUT": "2", "TOOLKIT_SERVE_BODY_GRACE": "1.5",
    "TOOLKIT_SERVE_MIN_BODY_RATE": "2000", "TOOLKIT_SERVE_IDLE_TIMEOUT": "5",
}
MAX_BODY = 1024 * 1024  # --max-body-size for this module's serve
SITE, COUNTER, GUARDED = "hostile-more-site", "hostile-more-counter", "hostile-more-guarded"


@pytest.fixture(scope="module")
def marks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-marks")


@pytest.fixture(scope="module")
def server(marks: Path) -> Iterator[Served]:
    env = {"HOSTILE_MARKS": str(marks), "HOSTILE_COUNTER_PORT": str(free_port()), **LIMITS}
    with served(APPS / "hostile_more.py", "--no-reload", "--max-body-size", str(MAX_BODY), env=env) as running:
        running.client(SITE).get("/echo").raise_for_status()  # a worker is up
        yield running


@pytest.fixture()
def host(server: Served) -> str:
    return server.host(SITE)


def healthy(server: Served, host: str) -> None:
    """A legitimate request on a fresh connection is answered, promptly."""
    response = exchange(server.port, request("GET", "/echo?id=ok", host))
    assert response.status == 200 and json.loads(response.body)["id"] == "ok"


# -- 1. Expect: 100-continue on the gateway's own side ---------------------------------------------------
def test_an_expected_body_that_never_comes_to_the_dashboard_is_cut_off(server: Served) -> None:
    # the request goes to the gateway's ASGI app, which answers without asking for the body (no
    # 100 Continue): the body clock waited for a 100 that never went out, so a body promised but
    # never sent held the connection (here a live event stream) for good; without Expect it is 408
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(request("POST", "/api/events", f"127.0.0.1:{server.port}",
                          [("Expect", "100-continue"), ("Content-Length", "100000")]))
        assert conn.read_head().status == 200
        started = time.monotonic()
        conn.sock.settimeout(ANSWER_WITHIN_S)
        received = b""
        while data := conn.sock.recv(65536):  # the stream, until the gateway closes the connection
            received += data
            assert time.monotonic() - started < ANSWER_WITHIN_S, received
    assert time.monotonic() - started < ANSWER_WITHIN_S
    healthy(server, server.host(SITE))


# -- 2. no replay of a request a worker read ------------------------------------------------------------
def test_a_request_the_web_server_read_is_not_sent_again_when_it_closes_unanswered(server: Served,
                                                                                   marks: Path) -> None:
    counter = server.host(COUNTER)
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(request("GET", "/count", counter))
        assert conn.read_response().status == 200  # the gateway keeps this worker connection for the next
        conn.send(request("GET", "/vanish", counter))  # at once: the kept connection is reused
        response = conn.read_response()
    assert response.status >= 500, response
    assert exchange(server.port, request("GET", "/count", counter)).status == 200
    assert (marks / "seen-vanish").read_text() == "x", "the request the server read was sent to it again"


# -- 3. a worker killed mid-request -----------------------------------------------------------------------
def next_requests_reach_a_live_worker(server: Served, host: str, dead: int) -> None:
    """Requests sent right after a request's worker died: each answered by another worker."""
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        for n in range(5):
            conn.send(request("GET", f"/echo?id=next-{n}", host))
            response = conn.read_response()
            assert response.status == 200, response
            assert json.loads(response.body)["pid"] != dead


def test_a_worker_killed_mid_upload_gets_no_more_requests_and_the_upload_a_clean_5xx(server: Served, host: str,
                                                                                   marks: Path) -> None:
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as upload:
        upload.send(request("POST", "/upload?marker=killed", host, [("Content-Length", str(MAX_BODY - 1))])
                    + b"u" * 100_000)
        wait_for(lambda: (marks / "killed-pid").exists(), "the upload to reach its worker", timeout=ANSWER_WITHIN_S)
        dead = int((marks / "killed-pid").read_text())
        os.kill(dead, signal.SIGKILL)
        answered = upload.read_response()
    assert 500 <= answered.status < 600 and b"stopped while handling this request" in answered.body
    next_requests_reach_a_live_worker(server, host, dead)
    assert not (marks / "killed-whole").exists()


def test_a_worker_dead_mid_response_gets_no_more_requests(server: Served, host: str) -> None:
    # the worker (one of several inputs at once) streams part of a body and dies: its response is
    # cut, and the requests sent at once after it must not go to the dead worker, whose exit the
    # pool hears of later
    for _ in range(2):
        with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
            conn.send(request("GET", "/die-mid-stream", host))
            response = conn.read_response()
        assert response.status == 200 and not response.complete
        dead = int(response.body.split(b" ")[0])
        next_requests_reach_a_live_worker(server, host, dead)


# -- 4. a chunked upload over the limit; Expect to a cold endpoint -----------------------------------------
def test_a_chunked_upload_over_the_limit_gets_413_part_way_and_the_worker_no_truncated_body(
        server: Served, host: str, marks: Path) -> None:
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(request("POST", "/upload?marker=chunked-big", host, [("Transfer-Encoding", "chunked")]))
        sent = 0
        while not select.select([conn.sock], [], [], 0.01)[0]:  # a body without end, until the gateway answers
            conn.send(b"%x\r\n%s\r\n" % (64 * 1024, b"c" * 64 * 1024))
            sent += 64 * 1024
            assert sent < 4 * MAX_BODY, "the gateway kept reading a body over its limit"
        response = conn.read_response()
    assert response.status == 413 and str(MAX_BODY).encode() in response.body
    time.sleep(0.5)  # a truncated body taken for whole would be marked by now
    assert not (marks / "chunked-big-whole").exists()
    healthy(server, host)


def test_expect_100_continue_to_a_cold_endpoint_gets_100_then_the_answer(marks: Path, tmp_path: Path) -> None:
    cold = tmp_path / "cold.py"
    cold.write_text((APPS / "hostile_more.py").read_text().replace('App("hostile-more")', 'App("cold")'))
    env = {"HOSTILE_MARKS": str(marks), "HOSTILE_COUNTER_PORT": str(free_port())}
    with served(cold, "--no-reload", env=env) as server:  # no request yet: no worker runs
        body = b'{"cold": true}'
        with RawConnection(server.port, timeout=30) as conn:  # a worker's start takes seconds
            conn.send(request("POST", "/echo?id=cold", server.host("cold-site"),
                              [("Expect", "100-continue"), ("Content-Length", str(len(body)))]))
            assert conn.read_head().status == 100
            conn.send(body)
            response = conn.read_response()
    assert response.status == 200 and json.loads(response.body)["body"] == body.decode()


# -- 6. what an attacker tries next -------------------------------------------------------------------
def seen_by_app(response: RawResponse) -> dict[str, str]:
    """The request headers the app got (lower-case names; repeated ones joined)."""
    assert response.status == 200, response
    seen: dict[str, str] = {}
    for name, value in json.loads(response.body)["headers"]:
        seen[name] = f"{seen[name]}, {value}" if name in seen else value
    return seen


SMUGGLED = "GET /echo?marker={marker} HTTP/1.1\r\nHost: {host}\r\n\r\n"
MORE_FRAMINGS = {  # each: a request whose body a confused parser could end early, hiding SMUGGLED in it
    "cl-leading-space": "Content-Length:  {n}\r\nContent-Length: 0\r\n\r\n{smuggled}",
    "cl-negative": "Content-Length: -1\r\n\r\n{smuggled}",
    "cl-hex": "Content-Length: 0x{hexn}\r\n\r\n{smuggled}",
    "cl-underscore": "Content_Length: 0\r\nContent-Length: {n}\r\n\r\n{smuggled}",
    "te-quoted": 'Transfer-Encoding: "chunked"\r\nContent-Length: {n}\r\n\r\n0\r\n\r\n{smuggled}',
    "te-uppercase-comma": "Transfer-Encoding: CHUNKED,\r\nContent-Length: {n}\r\n\r\n0\r\n\r\n{smuggled}",
    "te-tab": "Transfer-Encoding:\tchunked\r\nContent-Length: {n}\r\n\r\n0\r\n\r\n{smuggled}",
    "chunk-size-spaces": "Transfer-Encoding: chunked\r\n\r\n{hexn} \r\n{smuggled}\r\n0\r\n\r\n",
    "chunk-size-leading-zeros": "Transfer-Encoding: chunked\r\n\r\n" + "0" * 40 + "{hexn}\r\n{smuggled}\r\n0\r\n\r\n",
    "chunk-ext-bare-lf": "Transfer-Encoding: chunked\r\n\r\n{hexn};a=b\n{smuggled}\r\n0\r\n\r\n",
    "chunk-ext-quoted-crlf": 'Transfer-Encoding: chunked\r\n\r\n1;a="\r\n"\r\nx\r\n0\r\n\r\n{smuggled}',
    "chunk-data-longer": "Transfer-Encoding: chunked\r\n\r\n1\r\nxx{smuggled}\r\n0\r\n\r\n",
    "last-chunk-no-crlf": "Transfer-Encoding: chunked\r\n\r\n0\r\n{smuggled}",
    "trailer-content-length": "Transfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: {n}\r\n\r\n{smuggled}",
}


@pytest.mark.parametrize("name", sorted(MORE_FRAMINGS))
def test_no_further_smuggling_framing_reaches_a_worker_unseen(server: Served, host: str, marks: Path,
                                                              name: str) -> None:
    marker = f"smuggled-{name}"
    smuggled = SMUGGLED.format(marker=marker, host=host)
    body = MORE_FRAMINGS[name].format(n=len(smuggled), hexn=f"{len(smuggled):x}", smuggled=smuggled)
    head = f"POST /echo?id=outer-{name} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send((head + body).encode("latin-1"))
        answers = []
        while not conn.at_eof():
            answers.append(conn.read_response())
    assert answers and answers[0].status in (200, 400, 411, 413, 501), answers
    if (marks / marker).exists():  # then the gateway itself read it as a second request, and answered it
        assert len(answers) == 2 and answers[0].status == 200 and answers[1].status == 200, answers
        assert json.loads(answers[0].body)["body"] not in ("", smuggled)  # not also inside the first's body
    healthy(server, host)


@pytest.mark.parametrize("trailers", [b"X-Trailer: injected\r\n",
                                      b"Content-Length: 999\r\nX-Trailer: injected\r\nHost: evil.example\r\n"
                                      b"Transfer-Encoding: identity\r\n"], ids=["plain", "forbidden"])
def test_trailer_fields_are_not_passed_on_as_headers(server: Served, host: str, trailers: bytes) -> None:
    body = b"5\r\nhello\r\n0\r\n" + trailers + b"\r\n"
    response = exchange(server.port, request("POST", "/echo?id=trailers", host, [("Transfer-Encoding", "chunked")], body))
    if response.status == 400:  # llhttp refuses framing fields among trailers
        return
    seen = seen_by_app(response)
    assert json.loads(response.body)["body"] == "hello"
    assert "x-trailer" not in seen and seen["host"] == host and "999" not in seen.get("content-length", "")


def test_chunk_extensions_are_accepted_and_not_passed_on(server: Served, host: str) -> None:
    body = b'5;name=value;q="quoted;str"\r\nhello\r\n6;x\r\n world\r\n0;last\r\n\r\n'
    response = exchange(server.port, request("POST", "/echo?id=ext", host, [("Transfer-Encoding", "chunked")], body))
    assert response.status == 200 and json.loads(response.body)["body"] == "hello world"


@pytest.mark.parametrize("line", [b"1" + b"0" * 100_000, b"5;" + b"e" * 2_000_000], ids=["size", "extension"])
def test_a_huge_chunk_size_line_is_refused_without_growing_the_gateway(server: Served, host: str,
                                                                        line: bytes) -> None:
    before = rss_kib(server.proc.pid)
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(request("POST", "/echo?id=huge-chunk-line", host, [("Transfer-Encoding", "chunked")]))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.send(line + b"\r\nhello\r\n0\r\n\r\n")
        try:
            response = conn.read_response()
        except ConnectionError:
            response = None  # reset before the answer could be read: the gateway refused it all the same
    assert response is None or response.status in (400, 413), response
    assert rss_kib(server.proc.pid) - before < 32 * 1024
    healthy(server, host)


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


@pytest.mark.parametrize("raw", [
    b"X-Bad: one\rtwo",  # a bare CR inside a value
    b"X-Bad: one\ntwo: x",  # a bare LF (lenient parsers split the header here)
    b"X-Bad: one\x00two",
    b"X-Bad\r\n : folded",  # obs-fold right after a name with no colon
    b" X-Leading-Space: x",  # a line beginning with whitespace after the request line
])
def test_cr_lf_and_nul_in_header_lines_are_refused(server: Served, host: str, marks: Path, raw: bytes) -> None:
    head = f"GET /echo?marker=injected-header HTTP/1.1\r\nHost: {host}\r\n".encode() + raw + b"\r\n\r\n"
    response = exchange(server.port, head)
    assert response.status == 400, response
    assert not (marks / "injected-header").exists()


def test_percent_encoded_cr_lf_in_the_target_is_not_a_header(server: Served, host: str) -> None:
    target = "/echo?id=x%0d%0aX-Injected:%20yes%0d%0a%0d%0aGET%20/echo%20HTTP/1.1"
    seen = seen_by_app(exchange(server.port, request("GET", target, host)))
    assert "x-injected" not in seen


def test_forwarded_values_are_the_gateways_not_the_clients(server: Served, host: str) -> None:
    forged = [("X-Forwarded-For", "10.9.9.9"), ("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "https"),
              ("Forwarded", "for=10.9.9.9;host=evil.example"), ("X-Real-IP", "10.9.9.9")]
    seen = seen_by_app(exchange(server.port, request("GET", "/echo?id=forged", host, forged)))
    assert seen.get("x-forwarded-for", "").split(",")[-1].strip() == "127.0.0.1"
    assert seen.get("x-forwarded-host") in (None, host) and seen.get("x-forwarded-proto") in (None, "http")


def test_very_many_small_headers_are_served_or_refused_cleanly(server: Served, host: str) -> None:
    headers = [(f"x-{i}", "v") for i in range(8000)]  # ~60 KiB: under the head limit
    response = exchange(server.port, request("GET", "/echo?id=many", host, headers))
    assert response.status in (200, 431), response
    if response.status == 200:
        assert len(seen_by_app(response)) >= 8000
    healthy(server, host)


def test_two_host_headers_are_refused(server: Served, host: str, marks: Path) -> None:
    guarded = server.host(GUARDED)
    for first, second in ((host, guarded), (guarded, host)):
        response = exchange(server.port, request("GET", "/echo?marker=two-hosts", first, [("Host", second)]))
        assert response.status == 400, response
    assert not (marks / "two-hosts").exists()


def test_absolute_form_naming_another_endpoint_cannot_skip_its_proxy_auth(server: Served, host: str) -> None:
    guarded = server.host(GUARDED)
    # the Host header names the guarded endpoint, the target an open one: still the token is asked for
    response = exchange(server.port, request("GET", f"http://{host}/echo?id=absolute", guarded))
    assert response.status == 401, response
    # the other way round: served by one endpoint or refused, never the guarded one without a token
    response = exchange(server.port, request("GET", f"http://{guarded}/echo?id=absolute", host))
    assert response.status in (200, 400, 401), response
    if response.status == 200:
        assert seen_by_app(response)["host"] == host  # the endpoint it went to is the one the worker is told of


@pytest.mark.parametrize("target", ["/%2e%2e/api/endpoints", "/..%2fapi%2fendpoints", "/%2e%2e%2f%2e%2e/echo",
                                    "//localhost/api/endpoints", "/echo/../../api/endpoints"])
def test_encoded_traversal_on_a_guarded_host_still_needs_its_token(server: Served, target: str) -> None:
    response = exchange(server.port, request("GET", target, server.host(GUARDED)))
    assert response.status == 401, response


def test_http_1_0_keep_alive_gets_no_chunked_body_and_a_clean_end(server: Served, host: str) -> None:
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(request("GET", "/stream?id=old", host, [("Connection", "keep-alive")], version="1.0"))
        response = conn.read_response()
        assert response.status == 200 and not response.chunked and response.body == b"old:0;old:1;old:2;"
        if (response.header("connection") or "").lower() != "keep-alive":
            assert conn.at_eof()  # not kept alive: the connection ends with the body
        else:
            conn.send(request("GET", "/echo?id=second", host, [("Connection", "keep-alive")], version="1.0"))
            assert json.loads(conn.read_response().body)["id"] == "second"


def test_a_request_pipelined_behind_an_upgrade_is_not_served_as_http(server: Served, host: str, marks: Path) -> None:
    upgrade = request("GET", "/no-such-socket", host, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                      ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                                      ("Sec-WebSocket-Version", "13")])
    hidden = request("GET", "/echo?marker=after-upgrade", host)
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(upgrade + hidden)
        conn.sock.settimeout(3)
        try:
            while conn.sock.recv(65536):
                pass
        except (TimeoutError, ConnectionResetError):
            pass
    time.sleep(0.5)
    assert not (marks / "after-upgrade").exists()
    healthy(server, host)


def test_many_clients_each_get_their_own_response(server: Served, host: str) -> None:
    def client(n: int) -> list[str]:
        mismatches = []
        with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
            for round_ in range(3):  # three pipelined requests per round, then their answers
                ids = [f"c{n}-r{round_}-{k}" for k in range(3)]
                conn.send(b"".join(request("GET" if k % 2 else "POST", f"/echo?id={i}", host,
                                           [("Content-Length", str(len(i)))] if k % 2 == 0 else [],
                                           i.encode() if k % 2 == 0 else b"")
                                   for k, i in enumerate(ids)))
                for k, i in enumerate(ids):
                    got = json.loads(conn.read_response().body)
                    if got["id"] != i or (k % 2 == 0 and got["body"] != i):
                        mismatches.append(f"{i} got {got['id']}/{got['body']}")
        return mismatches

    def leaver(n: int) -> None:  # clients that leave mid-request, between the others
        with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
            conn.send(request("POST", f"/echo?id=leaver-{n}", host, [("Content-Length", "100")], b"x" * 10))

    with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
        leaving = [pool.submit(leaver, n) for n in range(16)]
        results = [pool.submit(client, n) for n in range(32)]
        crossed = [m for future in results for m in future.result(timeout=60)]
        for future in leaving:
            future.result(timeout=60)
    assert crossed == []


def test_a_body_in_one_byte_chunks_is_still_served(server: Served, host: str) -> None:
    data = bytes(range(97, 123)) * 400  # 10,400 chunks: framing several times the data, within the allowance
    body = b"".join(b"1;k=v\r\n%c\r\n" % byte for byte in data) + b"0\r\n\r\n"
    response = exchange(server.port, request("POST", "/echo?id=tiny", host, [("Transfer-Encoding", "chunked")], body))
    assert response.status == 200 and json.loads(response.body)["body"] == data.decode()


@pytest.mark.parametrize("closing", [("1.1", [("Connection", "close")]), ("1.0", [])], ids=["close", "http10"])
def test_nothing_pipelined_behind_a_last_request_reaches_a_worker(server: Served, host: str, marks: Path,
                                                                  closing: tuple[str, list[tuple[str, str]]]) -> None:
    version, headers = closing
    marker = f"behind-last-{version}"
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(request("GET", "/echo?id=last", host, headers, version=version)
                  + request("GET", f"/echo?marker={marker}", host))
        assert json.loads(conn.read_response().body)["id"] == "last"
        assert conn.at_eof()
    time.sleep(0.5)
    assert not (marks / marker).exists(), "a request sent after the connection's last one was served"


def test_a_websocket_upgrade_to_a_guarded_endpoint_needs_its_token(server: Served, marks: Path) -> None:
    upgrade = request("GET", "/echo?marker=ws-guarded", server.host(GUARDED),
                      [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                       ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")])
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(upgrade)
        assert conn.read_head().status != 101
    assert not (marks / "ws-guarded").exists()

"""`toolkit serve` against hostile or unlucky clients and workers, second round: raw sockets on
loopback, every read bounded.

What test_hostile.py does not cover: an ``Expect: 100-continue`` body that never comes on the
gateway's own (ASGI) side, a request replayed to a web_server that read it, a worker killed
while a body streams to it, a chunked upload over the body limit, ``Expect`` to a cold
endpoint; then smuggling and header-injection variants, absolute-form and percent-encoded
targets, and many clients at once, each of which must get its own response.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve.rawhttp import RawConnection, RawResponse, request
from serve.serving import APPS, Served, free_port, served, wait_for

ANSWER_WITHIN_S = 10  # every read in this module: a hang fails the test instead of stalling the suite
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


def exchange(server: Served, data: bytes, head_only: bool = False) -> RawResponse:
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(data)
        return conn.read_response(head_only)


def healthy(server: Served, host: str) -> None:
    """A legitimate request on a fresh connection is answered, promptly."""
    response = exchange(server, request("GET", "/echo?id=ok", host))
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
    assert exchange(server, request("GET", "/count", counter)).status == 200
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

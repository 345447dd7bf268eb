"""`toolkit serve` against hostile clients, on the wire: raw sockets on loopback, every read bounded.

What an attacker on the machine (or a web page doing DNS rebinding) can send the gateway:
request-smuggling framings, unparsable targets, oversized and never-ending heads, slowly
trickled heads and bodies, more connections than it allows, foreign Host names; and a
worker killed mid-request.  Each must end in a clear answer (or a closed connection)
without costing a legitimate client its request.  The client limits are shortened through
their settings (`toolkit.serve.guard.ClientLimits.from_environ`) so the slow cases take seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from serve.rawhttp import ANSWER_WITHIN_S, RawConnection, RawResponse, exchange, request
from serve.serving import APPS, Served, served, wait_for

from toolkit.exception import InvalidError
from toolkit.serve.guard import FDS_RESERVED, ClientLimits, ReadClock

LABEL = "guarded-site"
LIMITS = {  # short client limits, so that the slow clients below are cut off within seconds
    "TOOLKIT_SERVE_HEADER_TIMEOUT": "2", "TOOLKIT_SERVE_BODY_TIMEOUT": "2", "TOOLKIT_SERVE_BODY_GRACE": "1.5",
    "TOOLKIT_SERVE_MIN_BODY_RATE": "2000", "TOOLKIT_SERVE_IDLE_TIMEOUT": "2",
}
KiB, MiB = 1024, 1024 * 1024


@pytest.fixture(scope="module")
def marks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guarded-marks")


@pytest.fixture(scope="module")
def server(marks: Path) -> Iterator[Served]:
    with served(APPS / "guarded.py", "--no-reload", env={"GUARDED_MARKS": str(marks), **LIMITS}) as running:
        running.client(LABEL).get("/mark").raise_for_status()  # a worker is up
        yield running


@pytest.fixture()
def host(server: Served) -> str:
    return server.host(LABEL)


def healthy(server: Served, host: str) -> None:
    """A legitimate request on a fresh connection is answered, promptly."""
    response = exchange(server.port, request("GET", "/mark?n=ok", host))
    assert response.status == 200 and json.loads(response.body)["query"] == "n=ok"


def drain(conn: RawConnection) -> bytes:
    """Everything the gateway sends until it closes the connection (or stays silent for 3 s)."""
    conn.sock.settimeout(3)
    received = conn.buffer
    try:
        while data := conn.sock.recv(65536):
            received += data
    except (TimeoutError, ConnectionResetError):
        pass
    return received


# -- unparsable request targets -------------------------------------------------------------------
@pytest.mark.parametrize("target", ["127.0.0.1:1", "http://x:99999/", "*"])
@pytest.mark.parametrize("method", ["CONNECT", "GET"])
def test_an_unparsable_target_gets_400_at_once_and_frees_its_worker(server: Served, host: str, method: str,
                                                                    target: str) -> None:
    # more bad requests than the endpoint has workers (4), at once, when no kept-alive worker
    # connection is fresh enough to reuse: the slow start path, where the failure once went unheard
    # and held its worker slot (the first one leaked holds its connection too, so none is reused
    # after it: four leaked slots, and the fifth request waits past ANSWER_WITHIN_S)
    time.sleep(1.1)  # `upstream.REUSE_WITHIN_S`: idle worker connections are no longer reused
    bad = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    with ThreadPoolExecutor(max_workers=5) as pool:
        responses = list(pool.map(lambda _: exchange(server.port, bad), range(5)))
    for response in responses:
        assert response.status == 400, response.body
        if method == "CONNECT":  # (llhttp itself refuses some of the GETs: "Invalid HTTP request received.")
            assert f"The request target {target!r} is not a path".encode() in response.body
    healthy(server, host)


# -- request smuggling ------------------------------------------------------------------------------
SMUGGLED = "GET /mark?marker={marker} HTTP/1.1\r\nHost: {host}\r\n\r\n"
# each: a POST whose framing a lenient or confused parser could end early, so that the
# request hidden in its body (SMUGGLED) would reach the worker as a request of its own
FRAMINGS = {
    "cl-te": "Content-Length: {n}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}",
    "te-cl": "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n{hexn}\r\n{smuggled}\r\n0\r\n\r\n",
    "double-cl": "Content-Length: 0\r\nContent-Length: {n}\r\n\r\n{smuggled}",
    "cl-list": "Content-Length: {n}, 0\r\n\r\n{smuggled}",
    "cl-plus": "Content-Length: +{n}\r\n\r\n{smuggled}",
    "te-obs-fold": "Transfer-Encoding:\r\n chunked\r\nContent-Length: {n}\r\n\r\n0\r\n\r\n{smuggled}",
    "te-space-before-colon": "Transfer-Encoding : chunked\r\nContent-Length: {n}\r\n\r\n0\r\n\r\n{smuggled}",
    "te-xchunked": "Transfer-Encoding: xchunked\r\nContent-Length: {n}\r\n\r\n0\r\n\r\n{smuggled}",
    "te-chunked-identity": "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{smuggled}",
    "te-twice": "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: {n}\r\n\r\n"
                "0\r\n\r\n{smuggled}",
    "te-vertical-tab": "Transfer-Encoding: \x0bchunked\r\nContent-Length: {n}\r\n\r\n0\r\n\r\n{smuggled}",
    "te-nul": "Transfer-Encoding: chunked\x00\r\nContent-Length: {n}\r\n\r\n0\r\n\r\n{smuggled}",
    "chunk-size-0x": "Transfer-Encoding: chunked\r\n\r\n0x{hexn}\r\n{smuggled}\r\n0\r\n\r\n",
    "chunk-size-overflow": "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\n{smuggled}\r\n0\r\n\r\n",
    "chunk-bare-lf": "Transfer-Encoding: chunked\r\n\r\n0\n\n{smuggled}",
    "bare-lf-head": "Content-Length: {n}\n\n{smuggled}",
    "http10-te": "Transfer-Encoding: chunked\r\nContent-Length: {n}\r\n\r\n0\r\n\r\n{smuggled}",
}


@pytest.mark.parametrize("name", sorted(FRAMINGS))
def test_no_smuggling_framing_reaches_a_worker_as_a_second_request(server: Served, host: str, marks: Path,
                                                                   name: str) -> None:
    marker = f"smuggled-{name}"
    smuggled = SMUGGLED.format(marker=marker, host=host)
    body = FRAMINGS[name].format(n=len(smuggled), hexn=f"{len(smuggled):x}", smuggled=smuggled)
    version = "1.0" if name == "http10-te" else "1.1"
    line_end = "\n" if name == "bare-lf-head" else "\r\n"
    head = line_end.join([f"POST /mark?marker=outer-{name} HTTP/{version}", f"Host: {host}"]) + line_end
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send((head + body).encode("latin-1"))
        answered = drain(conn)
    assert answered.startswith(b"HTTP/1.1 "), answered  # answered (a 400, or the outer request), not hung
    time.sleep(0.5)  # a smuggled request would have reached the worker by now
    assert not (marks / marker).exists(), f"{name}: the hidden request reached the worker: {answered!r}"
    healthy(server, host)


# -- request heads ----------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    [("X-Big", "a" * (100 * KiB))],
    [(f"X-Many-{i}", "b" * 1000) for i in range(100)],
], ids=["one-long-header", "many-headers"])
def test_a_head_over_the_limit_gets_431(server: Served, host: str, headers: list[tuple[str, str]]) -> None:
    response = exchange(server.port, request("GET", "/mark?marker=too-big", host, headers))
    assert response.status == 431
    assert b"over 65536 bytes" in response.body and b"TOOLKIT_SERVE_MAX_HEAD_BYTES" in response.body
    healthy(server, host)


def test_a_head_under_the_limit_is_served(server: Served, host: str) -> None:
    response = exchange(server.port, request("GET", "/mark?n=big-but-fine", host, [("X-Big", "a" * (60 * KiB))]))
    assert response.status == 200


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def test_an_endless_head_is_cut_off_and_costs_the_gateway_no_memory(server: Served, host: str) -> None:
    before = rss_kib(server.proc.pid)
    sent = 0
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(f"GET /mark HTTP/1.1\r\nHost: {host}\r\nX-Endless: ".encode())
        try:
            while sent < 64 * MiB:  # never finished: no end of line, no end of head
                conn.send(b"a" * MiB)
                sent += MiB
        except (BrokenPipeError, ConnectionResetError):
            pass
    assert sent < 16 * MiB, "the gateway kept reading an endless head"
    assert rss_kib(server.proc.pid) - before < 32 * 1024, "the gateway's memory grew with the endless head"
    healthy(server, host)


# -- slow clients ------------------------------------------------------------------------------------
def test_idle_and_slowloris_connections_are_closed_and_a_client_is_served_meanwhile(server: Served,
                                                                                      host: str) -> None:
    idle = [RawConnection(server.port, timeout=ANSWER_WITHIN_S) for _ in range(10)]
    slow = [RawConnection(server.port, timeout=ANSWER_WITHIN_S) for _ in range(10)]
    try:
        head = request("GET", "/mark", host, [("X-Slow", "x" * 200)])
        started = time.monotonic()
        for i in range(len(head) - 1):  # a byte per connection every 0.25 s, until the gateway answers
            waiting = [conn for conn in slow if not select.select([conn.sock], [], [], 0)[0]]
            if not waiting or time.monotonic() - started > ANSWER_WITHIN_S:
                break
            for conn in waiting:
                conn.send(head[i:i + 1])
            if i == 1:
                healthy(server, host)
            time.sleep(0.25)
        for conn in slow:
            response = conn.read_response()
            assert response.status == 408 and b"did not arrive whole within 2 s" in response.body
        for conn in idle:
            assert conn.at_eof()  # closed quietly: no request ever began
        assert time.monotonic() - started < ANSWER_WITHIN_S
    finally:
        for conn in idle + slow:
            conn.close()
    healthy(server, host)


def test_a_kept_alive_connection_is_closed_after_the_idle_timeout(server: Served, host: str) -> None:
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(request("GET", "/mark?n=1", host))
        assert conn.read_response().status == 200
        time.sleep(0.5)
        conn.send(request("GET", "/mark?n=2", host))  # still open within the idle timeout
        assert conn.read_response().status == 200
        assert conn.at_eof()  # then closed, within the read timeout


def trickle(server: Served, host: str, marker: str, stop: threading.Event, results: list[RawResponse]) -> None:
    """A POST declaring a 1 MB body, sent a byte every 0.25 s."""
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(request("POST", f"/upload?marker={marker}", host, [("Content-Length", "1000000")]))
        try:
            while not stop.is_set():
                conn.send(b"x")
                stop.wait(0.25)
        except (BrokenPipeError, ConnectionResetError):
            pass
        with contextlib.suppress(ConnectionError, TimeoutError):
            results.append(conn.read_response())


def test_trickled_bodies_do_not_starve_a_legitimate_request(server: Served, host: str, marks: Path) -> None:
    stop, results = threading.Event(), []
    threads = [threading.Thread(target=trickle, args=(server, host, f"trickle-{i}", stop, results)) for i in range(6)]
    for thread in threads:  # more trickling uploads than the endpoint has workers (4)
        thread.start()
    try:
        wait_for(lambda: len(list(marks.glob("trickle-*"))) >= 4 or bool(results), "the uploads to reach workers",
                 timeout=ANSWER_WITHIN_S)
        started = time.monotonic()
        upload = b"y" * 50_000
        with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
            conn.send(request("POST", "/upload?marker=legit", host, [("Content-Length", str(len(upload)))], upload))
            response = conn.read_response()
        assert response.status == 200 and json.loads(response.body) == {"length": len(upload)}
        assert time.monotonic() - started < ANSWER_WITHIN_S
    finally:
        stop.set()
        for thread in threads:
            thread.join(ANSWER_WITHIN_S)
    assert results and all(r.status == 408 and b"arrived too slowly" in r.body for r in results), results


def occupy(server: Served, host: str, marker: str, seconds: float) -> threading.Thread:
    """A request that holds a worker for ``seconds`` (it marks ``marker`` on arrival), in a thread."""
    def run() -> None:
        with contextlib.suppress(OSError):
            exchange(server.port, request("GET", f"/sleep?seconds={seconds}&marker={marker}", host))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_requests_ended_while_queued_for_a_worker_leave_no_worker_taken(server: Served, host: str,
                                                                        marks: Path) -> None:
    busy = [occupy(server, host, f"busy-{i}", 4) for i in range(4)]  # every worker of the endpoint
    wait_for(lambda: all((marks / f"busy-{i}").exists() for i in range(4)), "the workers to be busy",
             timeout=ANSWER_WITHIN_S)
    stop, results = threading.Event(), []
    queued = [threading.Thread(target=trickle, args=(server, host, f"queued-{i}", stop, results)) for i in range(2)]
    for thread in queued:  # queued for a worker, and ended (408: too slow) before one frees up
        thread.start()
    wait_for(lambda: len(results) == 2, "the queued uploads to be ended", timeout=ANSWER_WITHIN_S)
    stop.set()
    for thread in busy + queued:
        thread.join(ANSWER_WITHIN_S)
    # the workers those two would have taken once free are free: four requests get in at once
    after = [occupy(server, host, f"after-{i}", 2) for i in range(4)]
    try:
        wait_for(lambda: all((marks / f"after-{i}").exists() for i in range(4)), "four requests inside workers",
                 timeout=1.5)
    finally:
        for thread in after:
            thread.join(ANSWER_WITHIN_S)


def test_a_body_that_stops_arriving_gets_408(server: Served, host: str, marks: Path) -> None:
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(request("POST", "/upload?marker=stalled", host, [("Content-Length", "200000")]) + b"z" * 100_000)
        response = conn.read_response()
        assert response.status == 408 and b"stopped arriving: nothing for 2 s" in response.body
        assert conn.at_eof()
    wait_for(lambda: (marks / "stalled").exists(), "the worker's request to end", timeout=ANSWER_WITHIN_S)
    healthy(server, host)


# -- the connection cap ------------------------------------------------------------------------------
def test_connections_over_the_cap_get_503_and_the_gateway_recovers(marks: Path, tmp_path: Path) -> None:
    # an app of its own: a second serve of "guarded" would take the module's endpoint over
    capped = tmp_path / "capped.py"
    capped.write_text((APPS / "guarded.py").read_text().replace('App("guarded")', 'App("capped")'))
    env = {"GUARDED_MARKS": str(marks), "TOOLKIT_SERVE_MAX_CONNECTIONS": "20"}
    with served(capped, "--no-reload", env=env) as server:
        host = server.host("capped-site")
        held = [RawConnection(server.port, timeout=ANSWER_WITHIN_S) for _ in range(20)]
        try:
            for conn in held:
                conn.send(b"GET /mark HTTP/1.1\r\n")  # begun, not finished: each holds its connection
            time.sleep(0.3)
            for _ in range(3):
                with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as extra:
                    extra.send(request("GET", "/mark", host))
                    refused = extra.read_response()
                    assert refused.status == 503 and refused.header("retry-after") == "1"
                    assert b"TOOLKIT_SERVE_MAX_CONNECTIONS" in refused.body
                    assert extra.at_eof()
        finally:
            for conn in held:
                conn.close()
        wait_for(lambda: exchange(server.port, request("GET", "/mark", host)).status == 200, "the gateway to serve again",
                 timeout=ANSWER_WITHIN_S)


def test_the_connection_cap_stays_under_the_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
        assert ClientLimits().connection_cap() == (1024 - FDS_RESERVED) // 2
        assert ClientLimits(max_connections=100).connection_cap() == 100
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_limits_settings_are_checked() -> None:
    assert ClientLimits.from_environ({"TOOLKIT_SERVE_HEADER_TIMEOUT": "2.5"}).header_timeout == 2.5
    with pytest.raises(InvalidError, match="TOOLKIT_SERVE_MAX_HEAD_BYTES='lots' is not a positive whole number"):
        ClientLimits.from_environ({"TOOLKIT_SERVE_MAX_HEAD_BYTES": "lots"})


# -- Host names (DNS rebinding) ----------------------------------------------------------------------
@pytest.mark.parametrize("foreign", ["{label}.attacker.example", "{label}.localhost.attacker.example",
                                     "x.{label}.localhost", "{label}.attacker.example."])
def test_a_foreign_host_is_not_routed(server: Served, foreign: str) -> None:
    name = foreign.format(label=server.host(LABEL).split(".")[0])
    response = exchange(server.port, request("GET", "/mark?marker=rebound", f"{name}:{server.port}"))
    assert response.status in (400, 404) and b"is not served here" in response.body


# -- a worker killed mid-request ---------------------------------------------------------------------
def test_kill_9_of_a_worker_mid_request_is_a_500_and_the_endpoint_keeps_serving(server: Served, host: str,
                                                                                 marks: Path) -> None:
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(request("GET", "/sleep?seconds=30&marker=inside", host))
        wait_for(lambda: (marks / "inside").exists(), "the request to reach its worker", timeout=ANSWER_WITHIN_S)
        os.kill(int((marks / "inside").read_text()), signal.SIGKILL)
        response = conn.read_response()
    assert response.status == 500
    assert b"stopped while handling this request (it crashed or exited)" in response.body
    healthy(server, host)
    assert exchange(server.port, request("GET", "/sleep", host)).status == 200



# -- the read clock, by itself ------------------------------------------------------------------------
def test_the_read_clock_does_not_count_time_the_gateway_stopped_reading() -> None:
    limits = ClientLimits(header_timeout=10, body_timeout=4, min_body_rate=100, body_grace=2)
    clock = ReadClock(limits, now=0)
    assert clock.expired(9.9) is None and clock.expired(10) is not None  # the first head: 10 s from the opening
    clock.body(now=1)
    clock.read(1000, now=1.5)  # 1,000 bytes: enough for 10 s at 100 bytes/s
    assert clock.expired(5.4) is None
    assert "stopped arriving: nothing for 4 s" in (clock.expired(5.5) or "")
    clock.pause(now=5)  # the gateway stopped reading (a slow worker): no deadline runs
    assert clock.expired(100) is None
    clock.resume(now=100)  # the 95 s paused are added to every deadline
    assert clock.expired(100.4) is None and clock.expired(100.5) is not None
    for now in (100.2, 103.0, 105.9):  # still reading, but slowly: 1,030 bytes are 10.3 s' worth at 100 bytes/s,
        clock.read(10, now)               # from the body's start (1 s, moved to 96 s by the pause)
    assert clock.expired(106.2) is None
    assert "arrived too slowly" in (clock.expired(106.4) or "")
    clock.waiting()  # the request is read: none of these limits apply
    assert clock.expired(1e9) is None

"""The function's ``timeout`` bounds its web requests (tests/serve/apps/timeouts.py, timeout=2):
504 naming the function when nothing was sent, a started stream cut off, a WebSocket closed,
the result URL of a detached request answering the 504; and the work really stops."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve.serving import APPS, Served, alive, served, wait_for
from websockets.exceptions import ConnectionClosed

TIMEOUT_S = 2
LONG_S = 4  # the work asked of a request that times out: twice its timeout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    marks = tmp_path_factory.mktemp("timeout-marks")
    with served(APPS / "timeouts.py", env={"TIMEOUT_MARKS": str(marks)}) as running:
        yield running


@pytest.fixture()
def marks(server: Served) -> Path:
    """Where the app's handlers write their markers."""
    return Path(server.env["TIMEOUT_MARKS"])


def message(function: str) -> str:
    return (f"{function} timed out after {TIMEOUT_S} s (its timeout) and was stopped; "
            "raise timeout= in @app.function(...) if it needs longer.")


def never_marked(marks: Path, marker: str, started: float) -> None:
    """The work asked for LONG_S seconds from ``started``: wait past that, its marker must not be there."""
    time.sleep(max(0.0, started + LONG_S + 1.0 - time.monotonic()))
    assert not (marks / marker).exists(), f"the timed-out work went on and wrote {marker}"


def stopped_with_its_worker(marks: Path, marker: str) -> None:
    """The work was stopped by ending the worker doing it (``<marker>.begun`` names its pid): once
    that process has exited the marker can never appear, so there is no need to wait the work out.
    Work left running writes its marker within LONG_S, which ends the wait (and fails) at once."""
    worker = int((marks / f"{marker}.begun").read_text())
    wait_for(lambda: not alive(worker) or (marks / marker).exists(), f"the worker {worker} doing {marker} to stop",
             timeout=LONG_S + 10)
    assert not (marks / marker).exists(), f"the timed-out work went on and wrote {marker}"


@pytest.mark.parametrize("function", ["blocking", "waiting"])  # a sync handler, an async one
def test_handler_past_its_timeout_gets_504_and_its_worker_is_replaced(server: Served, marks: Path,
                                                                       function: str) -> None:
    client = server.client(f"timeouts-{function}")
    before = client.get("/").json()["pid"]
    marker = f"{function}-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    response = client.get("/", params={"seconds": LONG_S, "marker": marker})
    assert time.monotonic() - started >= TIMEOUT_S * 0.9
    assert response.status_code == 504 and response.text == message(function)
    # one input at a time: the worker is the input's, so it is stopped (sync code cannot be
    # interrupted anyway), and the next request gets a working new one
    after = client.get("/")
    assert after.status_code == 200 and after.json()["pid"] != before
    wait_for(lambda: not alive(before), "the timed-out worker to stop")
    stopped_with_its_worker(marks, marker)
    assert f"{function}: a request ran past its timeout (2 s); it was ended" in server.output()


def test_concurrent_async_request_past_its_timeout_ends_alone(server: Served, marks: Path) -> None:
    client = server.client("timeouts-shared")
    pid = client.get("/").json()["pid"]
    marker = f"shared-long-{uuid.uuid4().hex[:8]}"
    results: dict[str, httpx.Response] = {}

    def call(name: str, seconds: float) -> None:
        with server.client("timeouts-shared") as own:
            results[name] = own.get("/", params={"seconds": seconds, "marker": name})

    started = time.monotonic()
    long = threading.Thread(target=call, args=(marker, LONG_S))
    long.start()
    time.sleep(1.0)
    # these run on the same worker across the moment the long one times out, and finish after it
    others = [f"shared-ok-{i}-{uuid.uuid4().hex[:8]}" for i in range(3)]
    threads = [threading.Thread(target=call, args=(name, 1.8)) for name in others]
    for thread in threads:
        thread.start()
    for thread in [long, *threads]:
        thread.join()
    assert results[marker].status_code == 504 and results[marker].text == message("shared")
    for name in others:
        assert results[name].status_code == 200 and results[name].json() == {"pid": pid, "marker": name}
        assert (marks / name).exists()
    assert client.get("/").json()["pid"] == pid  # the worker was kept: only the request was cancelled
    never_marked(marks, marker, started)


def test_a_started_stream_is_cut_off_at_the_timeout(server: Served, marks: Path) -> None:
    client = server.client("timeouts-site")
    before = client.get("/pid").json()["pid"]
    marker = f"stream-{uuid.uuid4().hex[:8]}"
    received: list[str] = []
    # the chunked body ends without its last chunk
    with pytest.raises(httpx.RemoteProtocolError), \
            client.stream("GET", "/events", params={"count": LONG_S * 10, "marker": marker}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            received.append(line)
    assert received[:3] == ["event 0", "event 1", "event 2"]  # it had begun, and arrived as it came
    assert len(received) < LONG_S * 10
    assert client.get("/pid").json()["pid"] != before
    stopped_with_its_worker(marks, marker)


def test_a_websocket_is_closed_at_the_timeout(server: Served) -> None:
    async def talk() -> tuple[list[str], ConnectionClosed]:
        replies = []
        async with server.websocket("timeouts-site", "/ws") as ws:
            for word in ("a", "b"):
                await ws.send(word)
                replies.append(str(await ws.recv()))
            try:
                while True:  # the connection stays usable until its timeout
                    await ws.send("more")
                    await ws.recv()
                    await asyncio.sleep(0.1)
            except ConnectionClosed as closed:
                return replies, closed

    started = time.monotonic()
    replies, closed = asyncio.run(talk())
    assert time.monotonic() - started >= TIMEOUT_S * 0.9
    assert replies == ["echo a", "echo b"]
    assert closed.rcvd is not None and closed.rcvd.code == 1011
    assert closed.rcvd.reason == "site timed out after 2 s; raise timeout="
    assert server.client("timeouts-site").get("/pid").status_code == 200


def test_a_detached_request_past_its_timeout_answers_504_at_its_result_url(tmp_path: Path) -> None:
    with served(APPS / "timeouts.py", "--request-timeout", "1", env={"TIMEOUT_MARKS": str(tmp_path)}) as budgeted:
        client = budgeted.client("timeouts-blocking")
        # a cold start may itself outlast the 1 s budget on a busy machine: follow its 303
        client.get("/", follow_redirects=True).raise_for_status()
        marker = f"detached-{uuid.uuid4().hex[:8]}"
        first = client.get("/", params={"seconds": LONG_S, "marker": marker})
        assert first.status_code == 303  # the budget (1 s) ran out before the timeout (2 s)
        location = first.headers["location"]
        answer = client.get(location)
        while answer.status_code == 303:
            assert answer.headers["location"] == location
            answer = client.get(location)
        assert answer.status_code == 504 and answer.text == message("blocking")
        assert client.get(location).text == message("blocking")  # the result stays
        assert client.get("/", follow_redirects=True).status_code == 200  # a new worker (cold, maybe past 1 s)
        stopped_with_its_worker(tmp_path, marker)

"""A request past its budget on a streaming Function URL keeps its response for the result URL,
in memory: bounded (`runtime.events.overtime.MAX_DETACHED_RESPONSE_BYTES`).  Past the bound the
work is stopped and the call fails with a message that names the limit and the fix.

Both paths, in process: an ASGI app whose response would never end, and a web_server on a real
loopback socket whose body would never end; the call store is SQLite in a temporary directory.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_support import Collected

from runtime.adapters.web_server import WebServerProxy
from runtime.callstore.base import CallStatus
from runtime.callstore.sqlite import SQLiteCallStore
from runtime.events.function_url import stream_web_server
from runtime.events.overtime import Overtime
from runtime.events.streaming import StreamedResponse, stream_asgi
from runtime.serialization import deserialize
from runtime.types import Receive, Scope, Send

LIMIT = 64 * 1024
BUDGET_S = 0.2
CHUNK = b"z" * 8192


def scope() -> Scope:
    return {"type": "http", "method": "GET", "path": "/big", "raw_path": b"/big", "query_string": b"",
            "headers": [(b"host", b"abc.lambda-url.us-east-1.on.aws")], "client": ("127.0.0.1", 1),
            "server": ("abc.lambda-url.us-east-1.on.aws", 443), "scheme": "https", "http_version": "1.1"}


def overtime(store: SQLiteCallStore) -> Overtime:
    return Overtime(lambda: store, "app", "big", BUDGET_S, lambda: 30.0, max_response_bytes=LIMIT)


def the_failure(store: SQLiteCallStore, stream: Collected) -> str:
    location = stream.data.split(b'"location":"', 1)[1].split(b'"', 1)[0].decode()
    call_id = location.rpartition("__toolkit_call_id=")[2]
    record = store.get(call_id)
    assert record is not None and record.status is CallStatus.FAILED, record
    assert record.result is not None
    return str(deserialize(record.result).message)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteCallStore:
    return SQLiteCallStore(tmp_path / "calls.db")


def test_an_asgi_response_past_the_budget_and_over_the_limit_is_stopped_and_fails_naming_it(
        store: SQLiteCallStore) -> None:
    sent = [0]

    async def endless(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(BUDGET_S * 2)  # no response within the budget: 303, then the work goes on
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:  # a body without end: only the limit stops it
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
            sent[0] += len(CHUNK)
            await asyncio.sleep(0)

    stream = Collected()
    response = StreamedResponse(lambda: stream)

    async def serve() -> None:
        await stream_asgi(endless, scope(), b"", response, overtime(store).watch(scope(), response))

    asyncio.run(asyncio.wait_for(serve(), 20))
    assert stream.data.startswith(b'{"statusCode":303')
    message = the_failure(store, stream)
    assert f"over {LIMIT} bytes" in message and "budget" in message and "Start the response within" in message
    assert sent[0] < 2 * LIMIT, "the app went on long after its response passed the limit"


def endless_server(listener: socket.socket, stop: threading.Event) -> None:
    conn, _ = listener.accept()
    with conn:
        conn.recv(65536)
        time.sleep(BUDGET_S * 2)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n")  # to the connection's end
        try:
            while not stop.is_set():
                conn.sendall(CHUNK)
        except OSError:
            pass  # the proxy closed the connection: what the test expects


@pytest.fixture
def upstream() -> Iterator[tuple[int, threading.Event]]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    stop = threading.Event()
    thread = threading.Thread(target=endless_server, args=(listener, stop), daemon=True)
    thread.start()
    yield listener.getsockname()[1], stop
    stop.set()
    thread.join(10)
    listener.close()


def test_a_web_server_response_past_the_budget_and_over_the_limit_is_cut_and_fails_naming_it(
        store: SQLiteCallStore, upstream: tuple[int, threading.Event]) -> None:
    port, stop = upstream
    stream = Collected()
    done = threading.Event()

    def serve() -> None:
        stream_web_server(WebServerProxy(port), scope(), b"", lambda: stream, overtime(store))
        done.set()

    threading.Thread(target=serve, daemon=True).start()
    assert done.wait(20), "the proxy kept reading a body over the limit"
    assert stream.data.startswith(b'{"statusCode":303')
    message = the_failure(store, stream)
    assert f"over {LIMIT} bytes" in message and "result URL" in message

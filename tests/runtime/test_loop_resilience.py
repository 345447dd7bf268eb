"""The Runtime API loop keeps serving when the Runtime API itself misbehaves.

In-process: `runtime.lambda_loop.serve` against a scripted raw-socket server on loopback that
answers chosen requests with bytes http.client cannot parse (a reply that is not HTTP), which
raise ``http.client.HTTPException`` rather than ``OSError``.  The loop must log the failed report,
drop the connection and go on with the next event, never die on it.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runtime.lambda_loop import LambdaContext, Reply, serve, start
from runtime.runtime_api import RuntimeAPI

GARBAGE = b"this is not HTTP\r\n\r\n"


class ScriptedAPI:
    """Hands out events ``r-0``, ``r-1``, ... and records each POST (path, body); a POST whose path
    ends with a key of ``garbage`` is answered with bytes that are not an HTTP response."""

    def __init__(self, garbage: tuple[str, ...]) -> None:
        self.garbage = garbage
        self.posts: list[tuple[str, bytes]] = []
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._count = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.getsockname()[1]}"

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as f:
            while line := f.readline():
                method, path, _ = line.decode().split(" ", 2)
                headers = {}
                while (header := f.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = f.read(int(headers.get("content-length", 0)))
                if method == "GET":
                    event = json.dumps({"n": self._count}).encode()
                    conn.sendall(b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-%d\r\n"
                                 b"Lambda-Runtime-Deadline-Ms: 99999999999999\r\nContent-Length: %d\r\n\r\n%s"
                                 % (self._count, len(event), event))
                    self._count += 1
                    continue
                self.posts.append((path, body))
                if path.endswith(self.garbage):
                    conn.sendall(GARBAGE)
                    return  # and the connection is gone
                conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedAPI]]:
    made: list[ScriptedAPI] = []

    def make(*garbage: str) -> ScriptedAPI:
        made.append(ScriptedAPI(garbage))
        return made[-1]

    yield make
    for api in made:
        api.close()


def fails_on_zero(event: Any, context: LambdaContext, reply: Reply) -> None:
    if event["n"] == 0:
        raise ValueError("the handler failed")
    reply.send({"n": event["n"]})


def test_an_unparsable_reply_to_an_error_report_does_not_end_the_loop(
        scripted: Callable[..., ScriptedAPI], caplog: pytest.LogCaptureFixture) -> None:
    api = scripted("r-0/error")
    with caplog.at_level(logging.ERROR, logger="toolkit.runtime"):
        serve(RuntimeAPI(api.address), fails_on_zero, max_invocations=2)  # raised BadStatusLine before
    assert [path.rsplit("/", 2)[-2:] for path, _ in api.posts] == [["r-0", "error"], ["r-1", "response"]]
    assert json.loads(api.posts[1][1]) == {"n": 1}
    assert "Could not report the failure to the Runtime API" in caplog.text
    assert api.connections == 2  # the broken connection was dropped and a fresh one opened


def test_an_unparsable_reply_to_an_init_error_is_logged_not_raised(
        scripted: Callable[..., ScriptedAPI], caplog: pytest.LogCaptureFixture) -> None:
    api = scripted("init/error")
    with caplog.at_level(logging.ERROR, logger="toolkit.runtime"):
        assert start(RuntimeAPI(api.address), "no_such_module_here.handler") is None
    assert [path.rsplit("/", 2)[-2:] for path, _ in api.posts] == [["init", "error"]]
    assert "Could not report the init error to the Runtime API" in caplog.text

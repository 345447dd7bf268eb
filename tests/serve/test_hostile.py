"""`toolkit serve` against hostile clients, on the wire: raw sockets on loopback, every read bounded.

What an attacker on the machine (or a web page doing DNS rebinding) can send the gateway:
request-smuggling framings, unparsable targets, oversized and never-ending heads, slowly
trickled heads and bodies, more connections than file descriptors, foreign Host names; and
a worker killed mid-request.  Each must end in a clear answer (or a closed connection)
without costing a legitimate client its request.  The timeouts are shortened through the
serve settings (`toolkit.serve.guard.ClientLimits.from_environ`) so the slow cases finish
in seconds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve.rawhttp import RawConnection, RawResponse, request
from serve.serving import APPS, Served, served, wait_for

LABEL = "relayed-site"
ANSWER_WITHIN_S = 10  # every read in this module: a hang fails the test instead of stalling the suite


@pytest.fixture(scope="module")
def marks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-marks")


@pytest.fixture(scope="module")
def server(marks: Path) -> Iterator[Served]:
    with served(APPS / "relayed.py", "--no-reload", env={"RELAYED_MARKS": str(marks)}) as running:
        running.client(LABEL).get("/small").raise_for_status()  # the worker is up
        yield running


@pytest.fixture()
def host(server: Served) -> str:
    return server.host(LABEL)


def exchange(server: Served, data: bytes, head_only: bool = False) -> RawResponse:
    with RawConnection(server.port, timeout=ANSWER_WITHIN_S) as conn:
        conn.send(data)
        return conn.read_response(head_only)


def healthy(server: Served, host: str) -> None:
    """A legitimate request on a fresh connection is answered, promptly."""
    response = exchange(server, request("GET", "/small?n=ok", host))
    assert response.status == 200 and json.loads(response.body)["query"] == "n=ok"


# -- unparsable request targets -------------------------------------------------------------------
@pytest.mark.parametrize("target", ["127.0.0.1:1", "http://x:99999/", "*"])
@pytest.mark.parametrize("method", ["CONNECT", "GET"])
def test_an_unparsable_target_gets_400_at_once_and_frees_its_worker(server: Served, host: str, method: str,
                                                                    target: str) -> None:
    # more bad requests than the endpoint has workers (4), each when no kept-alive worker
    # connection is fresh enough to reuse: the slow start path, where the failure once went unheard
    for _ in range(5):
        time.sleep(1.1)  # `upstream.REUSE_WITHIN_S`: idle worker connections are no longer reused
        response = exchange(server, f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert response.status == 400, response.body
        if method == "CONNECT":  # (llhttp itself refuses some of the GETs: "Invalid HTTP request received.")
            assert f"The request target {target!r} is not a path".encode() in response.body
    healthy(server, host)

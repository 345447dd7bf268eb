"""The runtime's web_server proxy never sends a request twice: a server that read a request and
closed without answering may have acted on it (a real server on loopback counts what it read)."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator

import pytest

from runtime.adapters.web_server import WebServerProxy

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


class CountingServer:
    """Answers the first request on each connection (kept alive), reads the second and closes unanswered."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.port: int = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                for answered in (True, False):
                    head = self.read_head(conn)
                    if head is None:
                        break
                    self.requests.append(head)
                    if answered:
                        conn.sendall(OK)

    @staticmethod
    def read_head(conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        return data


@pytest.fixture
def server() -> Iterator[CountingServer]:
    running = CountingServer()
    yield running
    running.sock.close()


def scope(method: str) -> dict[str, object]:
    return {"type": "http", "method": method, "path": "/x", "raw_path": b"/x", "query_string": b"",
            "headers": [(b"host", b"example")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
            "scheme": "http", "http_version": "1.1"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_request_the_server_read_and_closed_unanswered_is_not_sent_again(server: CountingServer,
                                                                          method: str) -> None:
    proxy = WebServerProxy(server.port)
    assert proxy.forward(scope(method), b"") [0] == 200  # the connection is kept for the next request
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        proxy.forward(scope(method), b"body" if method == "POST" else b"")
    assert len(server.requests) == 2, server.requests  # read once, never replayed
    assert proxy.forward(scope(method), b"")[0] == 200  # a fresh connection serves the next one

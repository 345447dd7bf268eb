"""A raw-socket HTTP/1.x client for wire-level tests: requests written byte for byte (pipelined,
malformed, HTTP/1.0), responses read and framed here, so what the gateway put on the wire shows."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

READ_TIMEOUT_S = 30
ANSWER_WITHIN_S = 10  # the wire-level (hostile) tests' bound on every read: a hang fails the test, not the suite


def request(method: str, target: str, host: str, headers: list[tuple[str, str]] | None = None,
            body: bytes = b"", version: str = "1.1") -> bytes:
    """A request head (and ``body``, as given: the caller frames it with its headers)."""
    lines = [f"{method} {target} HTTP/{version}", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"


@dataclass
class RawResponse:
    status: int
    reason: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunked: bool = False
    complete: bool = True  # False: the connection ended before the framed body did

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name.lower()]
        return ", ".join(values) if values else None


class RawConnection:
    def __init__(self, port: int, timeout: float = READ_TIMEOUT_S) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"the connection closed mid-line: {self.buffer!r}")
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _exactly(self, size: int) -> tuple[bytes, bool]:
        while len(self.buffer) < size:
            if not self._fill():
                data, self.buffer = self.buffer, b""
                return data, False
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data, True

    def read_head(self) -> RawResponse:
        status_line = self._line().decode("latin-1")
        version, status, reason = (status_line.split(" ", 2) + [""])[:3]
        response = RawResponse(int(status), reason, version)
        while line := self._line():
            name, _, value = line.decode("latin-1").partition(":")
            response.headers.append((name.strip().lower(), value.strip()))
        return response

    def read_response(self, head_only: bool = False) -> RawResponse:
        """The next final response (interim 1xx ones are read and dropped); ``head_only``: it
        answers HEAD, so it has no body whatever its headers say."""
        response = self.read_head()
        while 100 <= response.status < 200:
            response = self.read_head()
        if head_only or response.status in (204, 304):
            return response
        coding = response.header("transfer-encoding")
        length = response.header("content-length")
        if coding is not None and coding.lower().endswith("chunked"):
            response.chunked = True
            response.body, response.complete = self._chunked_body()
        elif length is not None:
            response.body, response.complete = self._exactly(int(length))
        else:  # to the end of the connection
            while self._fill():
                pass
            response.body, self.buffer = self.buffer, b""
        return response

    def _chunked_body(self) -> tuple[bytes, bool]:
        parts = []
        try:
            while size := int(self._line().split(b";")[0], 16):
                data, whole = self._exactly(size + 2)
                parts.append(data[:size])
                if not whole:
                    return b"".join(parts), False
            while self._line():  # trailers, then the blank line
                pass
        except (ConnectionError, ValueError):
            return b"".join(parts), False
        return b"".join(parts), True

    def at_eof(self) -> bool:
        """Whether the peer closed the connection with nothing more to read (waits up to the timeout)."""
        if self.buffer:
            return False
        try:
            return not self._fill()
        except ConnectionResetError:
            return True


def exchange(port: int, data: bytes, head_only: bool = False, timeout: float = ANSWER_WITHIN_S) -> RawResponse:
    """Send ``data`` on a fresh connection to 127.0.0.1:``port`` and read one response."""
    with RawConnection(port, timeout=timeout) as conn:
        conn.send(data)
        return conn.read_response(head_only)

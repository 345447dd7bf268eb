"""The Lambda Runtime API, client side: the HTTP interface at ``AWS_LAMBDA_RUNTIME_API`` that a
custom runtime polls for events and answers (AWS Lambda Developer Guide, "Using the Lambda runtime
API for custom runtimes" and "Response streaming for custom runtimes"; runtime/README.md has the
protocol as implemented here).

    GET  /2018-06-01/runtime/invocation/next            one event; headers carry its request id,
                                                         deadline, function ARN and trace id
    POST /2018-06-01/runtime/invocation/{id}/response    the result: one buffered body, or a chunked stream
    POST /2018-06-01/runtime/invocation/{id}/error       {"errorMessage", "errorType", "stackTrace"}
    POST /2018-06-01/runtime/init/error                  the same, when the runtime cannot start

One stdlib ``http.client`` connection is kept alive between requests (the API runs in the same
sandbox: no TLS, no reason to reconnect), except after a streamed response, whose connection the
runtime must close, as the streaming section of the guide says; the next request reconnects.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import traceback
from dataclasses import dataclass, field

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"
RESPONSE_MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"
# what a Function URL reads as prelude + 8 NULs + body (runtime.events.streaming)
HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
# below this, a chunk's size line, data and CRLF go out as one buffer (one segment with TCP_NODELAY)
_JOIN_BELOW = 64 * 1024


class RuntimeAPIError(RuntimeError):
    """The Runtime API refused a request (for example 413: a buffered response over 6 MB)."""


# Everything a request to the Runtime API can fail with: the socket (OSError), a reply http.client
# cannot parse (HTTPException: BadStatusLine, IncompleteRead, ...) or a refusal.  The loop catches
# exactly these where it must go on with the next event.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (OSError, http.client.HTTPException, RuntimeAPIError)


# A report goes into CloudWatch and, after a stream started, into an HTTP trailer (base64): an
# exception carrying a whole payload in its message must not make either one huge.
MAX_ERROR_MESSAGE = 4096  # characters
MAX_ERROR_FRAMES = 64  # the innermost frames: where it failed


def _shortened(message: str) -> str:
    if len(message) <= MAX_ERROR_MESSAGE:
        return message
    return f"{message[:MAX_ERROR_MESSAGE]}... ({len(message) - MAX_ERROR_MESSAGE} more characters)"


@dataclass(frozen=True)
class ErrorReport:
    """The documented error shape, for ``/error``, ``/init/error`` and a failed stream's trailers."""

    error_type: str
    message: str
    stack_trace: list[str] = field(default_factory=list)

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorReport:
        frames = traceback.extract_tb(exc.__traceback__)
        trace = traceback.format_list(frames[-MAX_ERROR_FRAMES:])
        return cls(type(exc).__name__, _shortened(str(exc)), trace)

    def to_json(self) -> bytes:
        return json.dumps({"errorMessage": self.message, "errorType": self.error_type,
                           "stackTrace": self.stack_trace}).encode()


@dataclass(frozen=True)
class Invocation:
    """One event from ``next`` with the headers Lambda sends alongside it."""

    request_id: str
    deadline_ms: int
    function_arn: str | None
    trace_id: str | None
    client_context: str | None
    cognito_identity: str | None
    body: bytes

    @classmethod
    def from_response(cls, headers: http.client.HTTPMessage, body: bytes) -> Invocation:
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        if not request_id:
            raise RuntimeAPIError("The Runtime API sent an event without Lambda-Runtime-Aws-Request-Id.")
        return cls(
            request_id=request_id,
            deadline_ms=int(headers.get("Lambda-Runtime-Deadline-Ms") or 0),
            function_arn=headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            trace_id=headers.get("Lambda-Runtime-Trace-Id"),
            client_context=headers.get("Lambda-Runtime-Client-Context"),
            cognito_identity=headers.get("Lambda-Runtime-Cognito-Identity"),
            body=body,
        )


class RuntimeAPI:
    """The client: ``next``, ``respond``, ``fail``, ``init_error`` and ``stream`` on one kept connection."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"AWS_LAMBDA_RUNTIME_API={address!r} is not host:port (Lambda sets it, e.g. 127.0.0.1:9001).")
        # no timeout: `next` blocks for as long as the environment waits for its next event
        self._conn = http.client.HTTPConnection(host, int(port))

    def next(self) -> Invocation:
        status, headers, body = self._exchange("GET", f"{PREFIX}/invocation/next")
        if status != 200:
            raise RuntimeAPIError(f"GET invocation/next answered {status}: {body[:200]!r}")
        return Invocation.from_response(headers, body)

    def respond(self, request_id: str, payload: bytes) -> None:
        self._post(f"{PREFIX}/invocation/{request_id}/response", payload, {"Content-Type": "application/json"})

    def fail(self, request_id: str, report: ErrorReport) -> None:
        self._post(f"{PREFIX}/invocation/{request_id}/error", report.to_json(),
                   {"Content-Type": "application/json", ERROR_TYPE_HEADER: report.error_type})

    def init_error(self, report: ErrorReport) -> None:
        self._post(f"{PREFIX}/init/error", report.to_json(),
                   {"Content-Type": "application/json", ERROR_TYPE_HEADER: report.error_type})

    def stream(self, request_id: str, content_type: str) -> ResponseStream:
        """Open a streamed response; nothing else may use the connection until it is closed or failed."""
        return ResponseStream(self._conn, f"{PREFIX}/invocation/{request_id}/response", content_type)

    def close(self) -> None:
        self._conn.close()

    def _post(self, path: str, payload: bytes, headers: dict[str, str]) -> None:
        status, _, body = self._exchange("POST", path, payload, headers)
        if not 200 <= status < 300:
            raise RuntimeAPIError(f"POST {path.removeprefix(PREFIX)} answered {status}: {body[:300]!r}")

    def _exchange(self, method: str, path: str, body: bytes | None = None,
                  headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        for attempt in (1, 2):
            reused = self._conn.sock is not None
            try:
                self._conn.request(method, path, body, headers or {})
                response = self._conn.getresponse()
                return response.status, response.headers, response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest):
                self._conn.close()  # a dropped kept connection: once more on a fresh one
                if attempt == 2 or not reused:
                    raise
        raise AssertionError("unreachable")


class ResponseStream:
    """One streamed response: ``Transfer-Encoding: chunked``, each ``write`` sent at once as one
    chunk, ended by ``close`` (the last chunk) or ``fail`` (the last chunk plus the error trailers)."""

    def __init__(self, conn: http.client.HTTPConnection, path: str, content_type: str) -> None:
        self._conn = conn
        self.closed = False
        if conn.sock is None:
            conn.connect()
        conn.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in (
            (RESPONSE_MODE_HEADER, "streaming"), ("Transfer-Encoding", "chunked"), ("Content-Type", content_type),
            ("Trailer", f"{ERROR_TYPE_HEADER}, {ERROR_BODY_TRAILER}"),
        ):
            conn.putheader(name, value)
        conn.endheaders()
        assert conn.sock is not None  # http.client's connect() set TCP_NODELAY: each chunk leaves at once
        self._sock: socket.socket = conn.sock

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed:
            raise RuntimeAPIError("write to a response stream that was already closed")
        if len(data):
            _send_chunk(self._sock, data)

    def close(self) -> None:
        self._end(b"0\r\n\r\n")

    def fail(self, report: ErrorReport) -> None:
        """End the stream as a function error: what was sent stays sent, the invocation fails."""
        encoded = base64.b64encode(report.to_json()).decode("ascii")
        trailers = f"0\r\n{ERROR_TYPE_HEADER}: {_header_safe(report.error_type)}\r\n{ERROR_BODY_TRAILER}: {encoded}\r\n\r\n"
        self._end(trailers.encode("ascii"))

    def _end(self, last: bytes) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._sock.sendall(last)
            response = self._conn.getresponse()
            body = response.read()
        finally:
            # AWS: a streaming runtime must "close the underlying connection after it has successfully
            # written the response"; the next request opens a fresh one
            self._conn.close()
        if not 200 <= response.status < 300:
            raise RuntimeAPIError(f"the streamed response was refused with {response.status}: {body[:300]!r}")

    def abandon(self) -> None:
        """Drop the connection under a stream that cannot be ended properly (the socket broke)."""
        self.closed = True
        self._conn.close()


def _send_chunk(sock: socket.socket, data: bytes | bytearray | memoryview) -> None:
    head = b"%x\r\n" % len(data)
    if len(data) < _JOIN_BELOW:
        sock.sendall(b"".join((head, data, b"\r\n")))
        return
    # large bodies: scatter-gather, no copy of the data into a joined buffer
    parts = [memoryview(head), memoryview(data).cast("B"), memoryview(b"\r\n")]
    while parts:
        sent = sock.sendmsg(parts)
        while parts and sent >= len(parts[0]):
            sent -= len(parts[0])
            parts.pop(0)
        if parts and sent:
            parts[0] = parts[0][sent:]


def _header_safe(value: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in value)[:200]

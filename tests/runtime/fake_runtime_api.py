"""A fake Lambda Runtime API (the HTTP interface a custom runtime such as awslambdaric polls).

Documented endpoints only: ``GET /2018-06-01/runtime/invocation/next`` hands out queued
events with the request-id, deadline, function ARN and trace headers; ``POST .../{id}/response``
and ``.../{id}/error`` and ``POST /2018-06-01/runtime/init/error`` are recorded.  ``next``
blocks while the queue is empty, as the real API does between invocations.

Streamed responses (``Transfer-Encoding: chunked``, as toolkit's own loop sends for Function
URL events) are decoded chunk by chunk: each chunk is recorded with its arrival time and put on
`FakeRuntimeAPI.arrivals` the moment it is read, so a test can watch a body arrive while the
function is still producing it; trailers (the mid-stream error report) are recorded too.
Every request records the client address it came from, so a test can tell connections apart.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:toolkit-demo"


@dataclass(frozen=True)
class Chunk:
    data: bytes
    at: float  # time.monotonic() when it was read


@dataclass
class Posted:
    kind: str  # "response" | "error" | "init_error"
    request_id: str | None
    body: bytes
    headers: dict[str, str]
    chunks: list[Chunk] = field(default_factory=list)  # streamed responses only
    trailers: dict[str, str] = field(default_factory=dict)

    @property
    def streamed(self) -> bool:
        return self.headers.get("Transfer-Encoding", "").lower() == "chunked"


@dataclass
class FakeRuntimeAPI:
    events: queue.Queue[tuple[str, bytes]] = field(default_factory=queue.Queue)
    posted: queue.Queue[Posted] = field(default_factory=queue.Queue)
    arrivals: queue.Queue[tuple[str | None, bytes]] = field(default_factory=queue.Queue)  # (request id, chunk)
    peers: list[tuple[str, str]] = field(default_factory=list)  # (request line, client "host:port")
    deadline_s: float = 30.0

    def start(self) -> str:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the runtime client expects
            # a reply's head and body are two writes: with Nagle on, the body waits for the client's
            # delayed ACK of the head (~40 ms on Linux), on every `next` and every POST
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                api.peers.append((f"GET {self.path}", "{}:{}".format(*self.client_address)))
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404, b"{}")
                request_id, body = api.events.get()
                self._reply(200, body, {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int((time.time() + api.deadline_s) * 1000)),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                })

            def do_POST(self) -> None:
                api.peers.append((f"POST {self.path}", "{}:{}".format(*self.client_address)))
                kind, request_id = _route(self.path)
                posted = Posted(kind or "unknown", request_id, b"", dict(self.headers.items()))
                if posted.streamed:
                    self._read_chunked(posted)
                else:
                    posted.body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if kind is None:
                    return self._reply(404, b"{}")
                api.posted.put(posted)
                self._reply(202, b'{"status":"OK"}')

            def _read_chunked(self, posted: Posted) -> None:
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        break
                    data = self.rfile.read(size)
                    if self.rfile.read(2) != b"\r\n":
                        raise ValueError("chunk not followed by CRLF")
                    posted.chunks.append(Chunk(data, time.monotonic()))
                    api.arrivals.put((posted.request_id, data))
                while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    posted.trailers[name.strip()] = value.strip()
                posted.body = b"".join(c.data for c in posted.chunks)

            def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # shutdown() returns at the loop's next poll: 0.5 s by default, at every teardown
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, event: Any) -> str:
        return self.invoke_raw(json.dumps(event).encode())

    def invoke_raw(self, body: bytes) -> str:
        request_id = str(uuid.uuid4())
        self.events.put((request_id, body))
        return request_id

    def next_chunk(self, timeout: float) -> bytes:
        """The next streamed chunk to arrive (any invocation), as soon as it was read."""
        return self.arrivals.get(timeout=timeout)[1]

    def next_posted(self, timeout: float) -> Posted:
        return self.posted.get(timeout=timeout)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a runtime process killed mid-``next`` resets its connection: expected at teardown


def _route(path: str) -> tuple[str | None, str | None]:
    if path == f"{PREFIX}/init/error":
        return "init_error", None
    parts = path.removeprefix(f"{PREFIX}/invocation/").split("/")
    if path.startswith(f"{PREFIX}/invocation/") and len(parts) == 2 and parts[1] in ("response", "error"):
        return parts[1], parts[0]
    return None, None

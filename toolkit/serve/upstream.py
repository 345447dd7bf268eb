"""A lean HTTP/1.1 client for the gateway's hop to a worker (unix socket) or a web_server port.

Why not httpx: on this hop it was most of the gateway's CPU.  httpcore checks every pooled
connection with a ``select`` call on each request (O(connections)), and anyio's cancel
scopes and attribute lookups add more; at 64 concurrent clients the gateway managed a
tenth of bare uvicorn's throughput.  The peer here is our own uvicorn (or the user's
server on loopback), so a small client is enough: keep-alive connections reused
last-in-first-out, requests framed by Content-Length or chunked, response bodies streamed as
they arrive.  Content codings pass through untouched (the client decodes them, not the proxy).

A connection is an `asyncio.Protocol` (`Connection`), not a pair of streams: the gateway's
relay (`toolkit.serve.relay`) is driven by its callbacks, with no task or coroutine per
request.  Whoever owns the exchange in flight is the connection's `Listener`; `request` and
`UpstreamResponse` are the awaitable form of the same thing, for code that prefers to wait.

Responses are parsed by httptools (llhttp, the parser uvicorn reads requests with): status,
headers, body framing (Content-Length, chunked, to the connection's end), interim 1xx
responses and whether the connection may be kept alive are its decisions, not this module's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import httptools

Headers = list[tuple[bytes, bytes]]

HEAD_LIMIT = 1024 * 1024  # the largest response head accepted, like a front proxy's buffer (llhttp has no cap)
# body bytes parsed but not yet taken by the reader past which the socket is not read
# (a slow client behind the relay, a slow consumer of `aiter_raw`)
BUFFER_HIGH = 256 * 1024
# an idle connection older than this is not reused: servers close idle keep-alive
# connections after a few seconds (uvicorn 5 s, gunicorn 2 s), and a request written into
# one that the server is closing fails for no fault of the request
REUSE_WITHIN_S = 1.0
MAX_IDLE = 1024
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FRAMING = frozenset({b"content-length", b"transfer-encoding"})


class UpstreamError(Exception):
    """The connection to the worker failed, or it answered with something that is not HTTP/1.1."""


class Listener(Protocol):
    """The owner of the exchange in flight on a `Connection`."""

    def upstream_event(self) -> None:
        """Something changed: head or body parsed, the response complete, an error, the end of the connection."""

    def upstream_writable(self, writable: bool) -> None:
        """The connection's write buffer went over (False) or back under (True) its limit."""


Connector = Callable[[], Awaitable["Connection"]]


def unix_connector(path: str) -> Connector:
    async def connect() -> Connection:
        _, conn = await asyncio.get_running_loop().create_unix_connection(Connection, path)
        return conn

    return connect


def tcp_connector(host: str, port: int) -> Connector:
    async def connect() -> Connection:
        # asyncio sets TCP_NODELAY on TCP transports: a request head goes out at once
        _, conn = await asyncio.get_running_loop().create_connection(Connection, host, port)
        return conn

    return connect


class Connection(asyncio.Protocol):
    """One keep-alive connection; carries one exchange at a time (``message``, for ``listener``)."""

    __slots__ = ("transport", "message", "listener", "ended", "idle_since", "_head_seen", "_read_paused")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.message: ResponseMessage | None = None
        self.listener: Listener | None = None
        self.ended = False  # the peer closed, or the connection was lost: nothing more will arrive
        self.idle_since = time.monotonic()
        self._head_seen = 0
        self._read_paused = False

    # -- one exchange ---------------------------------------------------------------------------
    def begin(self, listener: Listener, head_only: bool) -> ResponseMessage:
        """Start an exchange: the response to what is written next goes to ``listener``."""
        self.message, self.listener, self._head_seen = ResponseMessage(head_only), listener, 0
        return self.message

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def take_body(self) -> list[bytes]:
        """The body chunks parsed since the last call; reading resumes if a full buffer paused it."""
        message = self.message
        if message is None or not message.body:
            return []
        chunks, message.body, message.buffered = message.body, [], 0
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()
        return chunks

    def reusable(self, now: float) -> bool:
        return (now - self.idle_since < REUSE_WITHIN_S and not self.ended and self.transport is not None
                and not self.transport.is_closing())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        message = self.message
        if message is None:  # bytes on an idle connection: it is out of step with the peer
            self.ended = True
            self.close()
            return
        if not message.head_done:
            self._head_seen += len(data)
        try:
            message.feed(data)
        except UpstreamError as exc:
            message.error = exc
        if not message.head_done and self._head_seen > HEAD_LIMIT and message.error is None:
            message.error = UpstreamError(f"the worker's response head is over {HEAD_LIMIT} bytes")
        if message.buffered > BUFFER_HIGH and not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()
        if self.listener is not None:
            self.listener.upstream_event()

    def eof_received(self) -> bool | None:
        self._end()
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()

    def pause_writing(self) -> None:
        if self.listener is not None:
            self.listener.upstream_writable(False)

    def resume_writing(self) -> None:
        if self.listener is not None:
            self.listener.upstream_writable(True)

    def _end(self) -> None:
        if self.ended:
            return
        self.ended = True
        message = self.message
        if message is not None and not message.complete and message.error is None:
            if message.head_done and _ends_at_close(message.headers):
                # llhttp reads such a body to the end of the connection, but httptools cannot be
                # told that the end came (llhttp_finish): the body is whole now
                message.complete, message.keep_alive = True, False
            elif message.head_done:
                message.error = UpstreamError("the worker's response broke off (the connection closed mid-body)")
            else:
                message.error = UpstreamError("the worker closed the connection before it answered")
        if self.listener is not None:
            self.listener.upstream_event()


class UpstreamPool:
    """Keep-alive connections to one worker; no cap on open ones (the pool of workers caps requests)."""

    def __init__(self, connect: Connector) -> None:
        self.connect = connect
        self.idle: list[Connection] = []
        self.closed = False

    def idle_connection(self) -> Connection | None:
        """The most recently used idle connection that can still be trusted, without waiting."""
        now = time.monotonic()
        while self.idle:
            conn = self.idle.pop()
            if conn.reusable(now):
                return conn
            conn.close()
        return None

    async def new_connection(self) -> Connection:
        try:
            return await self.connect()
        except OSError as exc:
            raise UpstreamError(f"cannot connect to the worker: {exc}") from exc

    def finish(self, conn: Connection, reusable: bool = True) -> None:
        """The exchange on ``conn`` is over: keep the connection for the next one when the whole
        response was read and the peer allows it, else close it."""
        message, conn.message, conn.listener = conn.message, None, None
        if message is not None:
            message.parser = None  # the parser and its callbacks refer to each other: free them now, not at a GC
        if (reusable and message is not None and message.complete and message.keep_alive and not message.spoiled
                and not conn.ended and not self.closed and len(self.idle) < MAX_IDLE):
            conn.idle_since = time.monotonic()
            self.idle.append(conn)
        else:
            conn.close()

    async def request(self, method: str, target: str, headers: Headers, body: bytes) -> UpstreamResponse:
        """Send a request; returns once the response status and headers arrived.

        A request is written once: a connection that ends before its response raises
        `UpstreamError`, whatever the method.  The peer may have read the request and acted
        on it before closing, so sending it again could run it twice; only a connection seen
        closed before the write is skipped (`idle_connection`, in the same turn as the write)."""
        conn = self.idle_connection() or await self.new_connection()
        return await self._exchange(conn, method, target, headers, body)

    async def _exchange(self, conn: Connection, method: str, target: str, headers: Headers,
                        body: bytes) -> UpstreamResponse:
        waiter = _Waiter()
        conn.begin(waiter, head_only=method == "HEAD")
        try:
            framing = b"content-length: %d\r\n" % len(body) if body or method not in IDEMPOTENT else b""
            conn.write(encode_request_head(method.encode("latin-1"), target.encode("latin-1"), headers, framing) + body)
            return await UpstreamResponse.when_head(self, conn, waiter)
        except BaseException:  # a bad response, a cancelled request: mid-message
            self.finish(conn, reusable=False)
            raise

    async def aclose(self) -> None:
        self.closed = True
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()


def encode_request_head(method: bytes, target: bytes, headers: Headers, framing: bytes) -> bytes:
    """A request head; ``framing`` is the body's Content-Length or chunked line (or nothing):
    the caller's own framing headers are dropped, since the body is sent the way ``framing`` says."""
    lines = [method, b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        if name.lower() not in _FRAMING:
            lines += (name, b": ", value, b"\r\n")
    lines += (framing, b"\r\n")
    return b"".join(lines)


class _Waiter:
    """A `Listener` that wakes one coroutine waiting on the connection."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: asyncio.Future[None] | None = None

    def upstream_event(self) -> None:
        if self.future is not None and not self.future.done():
            self.future.set_result(None)

    def upstream_writable(self, writable: bool) -> None:
        pass  # `request` writes a whole body at once: nothing waits on the write buffer

    async def wait(self) -> None:
        self.future = asyncio.get_running_loop().create_future()
        try:
            await self.future
        finally:
            self.future = None


# -- responses: parsed by httptools -------------------------------------------------------------
class ResponseMessage:
    """httptools callbacks for one response: llhttp frames it, this keeps what the proxy needs.

    A fresh parser per response (about half a microsecond) rather than one per connection:
    a response to HEAD leaves llhttp waiting for a body that never comes (see
    ``on_headers_complete``), so its parser cannot read the next response anyway.
    """

    __slots__ = ("parser", "head_only", "status", "headers", "body", "buffered", "head_done", "complete",
                 "keep_alive", "spoiled", "error")

    def __init__(self, head_only: bool) -> None:
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.head_only = head_only
        self.status = 0
        self.headers: Headers = []
        self.body: list[bytes] = []  # chunks parsed but not yet handed to the reader of the body
        self.buffered = 0  # their size
        self.head_done = self.complete = self.keep_alive = False
        # bytes after the end of this response (a second response, a body on a HEAD answer,
        # data after "Connection: close"): the connection is out of step and is not reused
        self.spoiled = False
        # the response went wrong: before its head (nothing to relay) or mid-body; raised to
        # the reader once the chunks parsed before it were read
        self.error: UpstreamError | None = None

    def feed(self, data: bytes) -> None:
        if self.parser is None:
            raise UpstreamError("the response was already closed")
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.spoiled = True  # 101: the connection now speaks another protocol; this client relays HTTP only
        except httptools.HttpParserError as exc:
            if self.complete:
                self.spoiled = True
                return
            error = UpstreamError(f"the worker answered something that is not valid HTTP/1.1 ({exc})")
            error.__cause__ = exc
            if not self.head_done:
                raise error from exc
            self.error = error

    # -- the httptools protocol ------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.complete:
            self.spoiled = True
        self.headers = []  # an interim response's headers are not the real one's

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        if self.complete or parser is None:
            return
        status = parser.get_status_code()
        if status < 200 and status != 101:
            return  # 100 Continue, 103 Early Hints: llhttp ends them at their head; the real response follows
        self.status, self.head_done = status, True
        self.keep_alive = parser.should_keep_alive()
        if self.head_only:
            # llhttp skips the body of a response to HEAD only when its headers-complete
            # callback returns 1, and httptools does not pass that return value on, so llhttp
            # would wait for the Content-Length it was told.  Like aiohttp's parser for a HEAD
            # request (response_with_body=False), the response ends at its head.
            self.complete = True

    def on_body(self, body: bytes) -> None:
        if self.complete:
            self.spoiled = True
        else:
            self.body.append(body)
            self.buffered += len(body)

    def on_message_complete(self) -> None:
        if self.head_done:  # else an interim response ended
            self.complete = True


def declared_length(headers: Headers) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value)  # llhttp accepted it: digits, one value, no Transfer-Encoding beside it
    return None


def _ends_at_close(headers: Headers) -> bool:
    """Whether the body is framed by the connection's end: no Content-Length, no final chunked coding."""
    codings = [value for name, value in headers if name.lower() == b"transfer-encoding"]
    if codings:
        return codings[-1].rsplit(b",", 1)[-1].strip().lower() != b"chunked"
    return declared_length(headers) is None


class UpstreamResponse:
    """A response read by awaiting (`UpstreamPool.request`)."""

    def __init__(self, pool: UpstreamPool, conn: Connection, message: ResponseMessage, waiter: _Waiter) -> None:
        self.status_code, self.headers = message.status, message.headers
        self._pool, self._conn, self._message, self._waiter = pool, conn, message, waiter
        # nothing to read (HEAD, 204, 304, an empty body, all parsed with the head): 0
        self._length = 0 if message.complete and not message.body else declared_length(message.headers)
        self._released = False

    @classmethod
    async def when_head(cls, pool: UpstreamPool, conn: Connection, waiter: _Waiter) -> UpstreamResponse:
        """Wait for the head of the response in flight on ``conn`` (whose listener becomes ``waiter``)."""
        message = conn.message
        assert message is not None
        conn.listener = waiter
        while not message.head_done:
            if message.error is not None:
                raise message.error
            await waiter.wait()
        return cls(pool, conn, message, waiter)

    @property
    def length(self) -> int | None:
        """The body's size when known before reading it (Content-Length, or 0 for no body)."""
        return self._length

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body as it arrives (chunked framing removed; content codings kept)."""
        message, conn = self._message, self._conn
        while True:
            chunks = conn.take_body()
            if chunks:
                # what one read brought, as one piece: a streamed event is not held back, and
                # many small chunks that came together do not become many sends
                yield chunks[0] if len(chunks) == 1 else b"".join(chunks)
                continue
            if message.complete:
                return
            if message.error is not None:
                raise message.error
            await self._waiter.wait()

    async def aread(self) -> bytes:
        if self._message.complete:  # the usual small response came with its head
            return b"".join(self._conn.take_body())
        return b"".join([chunk async for chunk in self.aiter_raw()])

    async def aclose(self) -> None:
        """Return the connection for reuse when the whole response was read, else close it."""
        if not self._released:
            self._released = True
            self._pool.finish(self._conn)

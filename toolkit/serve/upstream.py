"""A lean HTTP/1.1 client for the gateway's hop to a worker (unix socket) or a web_server port.

Why not httpx: on this hop it was most of the gateway's CPU.  httpcore checks every pooled
connection with a ``select`` call on each request (O(connections)), and anyio's cancel
scopes and attribute lookups add more; at 64 concurrent clients the gateway managed a
tenth of bare uvicorn's throughput.  The peer here is our own uvicorn (or the user's
server on loopback), so a small client is enough: keep-alive connections reused
last-in-first-out, requests framed by Content-Length or chunked, response bodies streamed as
they arrive.  Content codings pass through untouched (the client decodes them, not the proxy).

Responses are parsed by httptools (llhttp, the parser uvicorn reads requests with): status,
headers, body framing (Content-Length, chunked, to the connection's end), interim 1xx
responses and whether the connection may be kept alive are its decisions, not this module's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httptools

Headers = list[tuple[bytes, bytes]]
Connector = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]

HEAD_LIMIT = 1024 * 1024  # the largest response head accepted, like a front proxy's buffer (llhttp has no cap)
READ_CHUNK = 64 * 1024
# an idle connection older than this is not reused: servers close idle keep-alive
# connections after a few seconds (uvicorn 5 s, gunicorn 2 s), and a request written into
# one that the server is closing fails for no fault of the request
REUSE_WITHIN_S = 1.0
MAX_IDLE = 1024
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class UpstreamError(Exception):
    """The connection to the worker failed, or it answered with something that is not HTTP/1.1."""


def unix_connector(path: str) -> Connector:
    return lambda: asyncio.open_unix_connection(path, limit=HEAD_LIMIT)


def tcp_connector(host: str, port: int) -> Connector:
    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(host, port, limit=HEAD_LIMIT)
        sock = writer.get_extra_info("socket")
        if sock is not None:  # small writes go out at once: no Nagle delay on a request head
            import socket

            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    return connect


@dataclass(eq=False)
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False
    idle_since: float = field(default_factory=time.monotonic)

    def reusable(self, now: float) -> bool:
        return (now - self.idle_since < REUSE_WITHIN_S and not self.reader.at_eof()
                and not self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class UpstreamPool:
    """Keep-alive connections to one worker; no cap on open ones (the pool of workers caps requests)."""

    def __init__(self, connect: Connector) -> None:
        self.connect = connect
        self.idle: list[Connection] = []
        self.closed = False

    async def _connection(self) -> Connection:
        now = time.monotonic()
        while self.idle:
            conn = self.idle.pop()
            if conn.reusable(now):
                conn.reused = True
                return conn
            conn.close()
        return await self._new_connection()

    async def _new_connection(self) -> Connection:
        try:
            reader, writer = await self.connect()
        except OSError as exc:
            raise UpstreamError(f"cannot connect to the worker: {exc}") from exc
        return Connection(reader, writer)

    def _give_back(self, conn: Connection) -> None:
        if self.closed or len(self.idle) >= MAX_IDLE:
            conn.close()
            return
        conn.reused, conn.idle_since = False, time.monotonic()
        self.idle.append(conn)

    async def request(self, method: str, target: str, headers: Headers,
                      body: bytes | AsyncIterator[bytes]) -> UpstreamResponse:
        """Send a request; returns once the response status and headers arrived."""
        conn = await self._connection()
        try:
            return await self._exchange(conn, method, target, headers, body)
        except UpstreamError:
            if not (conn.reused and isinstance(body, bytes) and method in IDEMPOTENT):
                raise
        # the server closed that kept-alive connection just as we wrote to it: safe to repeat once
        return await self._exchange(await self._new_connection(), method, target, headers, body)

    async def _exchange(self, conn: Connection, method: str, target: str, headers: Headers,
                        body: bytes | AsyncIterator[bytes]) -> UpstreamResponse:
        message = _Message(head_only=method == "HEAD")
        try:
            await _write_request(conn.writer, method, target, headers, body)
            await _read_head(conn.reader, message)
        except OSError as exc:
            conn.close()
            raise UpstreamError(f"the worker's connection failed ({type(exc).__name__})") from exc
        except BaseException:  # a bad response, a body over the limit, a cancelled request: mid-message
            conn.close()
            raise
        return UpstreamResponse(self, conn, message)

    async def aclose(self) -> None:
        self.closed = True
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()


# -- the wire format -------------------------------------------------------------------------------
async def _write_request(writer: asyncio.StreamWriter, method: str, target: str, headers: Headers,
                         body: bytes | AsyncIterator[bytes]) -> None:
    lines = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1")]
    lines.extend(k + b": " + v + b"\r\n" for k, v in headers if k.lower() not in (b"content-length",
                                                                                    b"transfer-encoding"))
    if isinstance(body, bytes):
        if body or method not in IDEMPOTENT:
            lines.append(b"content-length: %d\r\n" % len(body))
        lines.append(b"\r\n")
        lines.append(body)
        writer.write(b"".join(lines))
    else:
        lines.append(b"transfer-encoding: chunked\r\n\r\n")
        writer.write(b"".join(lines))
        async for chunk in body:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
    await writer.drain()


# -- responses: parsed by httptools -------------------------------------------------------------
async def _read_head(reader: asyncio.StreamReader, message: _Message) -> None:
    seen = 0
    while not message.head_done:
        data = await reader.read(READ_CHUNK)
        if not data:
            raise UpstreamError("the worker closed the connection before it answered")
        message.feed(data)
        seen += len(data)
        if seen > HEAD_LIMIT and not message.head_done:
            raise UpstreamError(f"the worker's response head is over {HEAD_LIMIT} bytes")


class _Message:
    """httptools callbacks for one response: llhttp frames it, this keeps what the proxy needs.

    A fresh parser per response (about half a microsecond) rather than one per connection:
    a response to HEAD leaves llhttp waiting for a body that never comes (see
    ``on_headers_complete``), so its parser cannot read the next response anyway.
    """

    __slots__ = ("parser", "head_only", "status", "headers", "body", "head_done", "complete", "keep_alive",
                 "spoiled", "error")

    def __init__(self, head_only: bool) -> None:
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.head_only = head_only
        self.status = 0
        self.headers: Headers = []
        self.body: list[bytes] = []  # chunks parsed but not yet handed to the reader of the body
        self.head_done = self.complete = self.keep_alive = False
        # bytes after the end of this response (a second response, a body on a HEAD answer,
        # data after "Connection: close"): the connection is out of step and is not reused
        self.spoiled = False
        # the body went wrong in a read that also brought the head: raised once the chunks
        # parsed before it were read, so the caller sees the response, then its body break off
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

    def on_message_complete(self) -> None:
        if self.head_done:  # else an interim response ended
            self.complete = True


def _declared_length(headers: Headers) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value)  # llhttp accepted it: digits, one value, no Transfer-Encoding beside it
    return None


def _ends_at_close(headers: Headers) -> bool:
    """Whether the body is framed by the connection's end: no Content-Length, no final chunked coding.

    llhttp reads such a body to the end of the connection, but httptools has no way to tell it
    that the end came (llhttp_finish), so at EOF this says whether the body is whole or cut short.
    """
    codings = [value for name, value in headers if name.lower() == b"transfer-encoding"]
    if codings:
        return codings[-1].rsplit(b",", 1)[-1].strip().lower() != b"chunked"
    return _declared_length(headers) is None


class UpstreamResponse:
    def __init__(self, pool: UpstreamPool, conn: Connection, message: _Message) -> None:
        self.status_code, self.headers = message.status, message.headers
        self._pool, self._conn, self._message = pool, conn, message
        # nothing to read (HEAD, 204, 304, an empty body, all parsed with the head): 0, which
        # lets the proxy send the response whole
        self._length = 0 if message.complete and not message.body else _declared_length(message.headers)
        self._released = False

    @property
    def length(self) -> int | None:
        """The body's size when known before reading it (Content-Length, or 0 for no body)."""
        return self._length

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body as it arrives (chunked framing removed; content codings kept)."""
        message, reader = self._message, self._conn.reader
        while True:
            if message.body:
                # what one read brought, as one piece: a streamed event is not held back, and
                # many small chunks that came together do not become many sends
                chunks, message.body = message.body, []
                yield chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if message.complete:
                return
            if message.error is not None:
                raise message.error
            try:
                data = await reader.read(READ_CHUNK)
            except OSError as exc:
                raise UpstreamError(f"the worker's response broke off ({type(exc).__name__})") from exc
            if not data:
                if not _ends_at_close(self.headers):
                    raise UpstreamError("the worker's response broke off (the connection closed mid-body)")
                message.complete, message.keep_alive = True, False
                return
            message.feed(data)

    async def aread(self) -> bytes:
        message = self._message
        if message.complete:  # the usual small response came with its head: no generator needed
            body, message.body = b"".join(message.body), []
            return body
        return b"".join([chunk async for chunk in self.aiter_raw()])

    async def aclose(self) -> None:
        """Return the connection for reuse when the whole response was read, else close it."""
        if self._released:
            return
        self._released = True
        message = self._message
        message.parser = None  # the parser and its callbacks refer to each other: free them now, not at a GC
        if message.complete and message.keep_alive and not message.spoiled:
            self._pool._give_back(self._conn)
        else:
            self._conn.close()

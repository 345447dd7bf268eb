"""A lean HTTP/1.1 client for the gateway's hop to a worker (unix socket) or a web_server port.

Why not httpx: on this hop it was most of the gateway's CPU.  httpcore checks every pooled
connection with a ``select`` call on each request (O(connections)), and anyio's cancel
scopes and attribute lookups add more; at 64 concurrent clients the gateway managed a
tenth of bare uvicorn's throughput.  The peer here is our own uvicorn (or the user's
server on loopback), so a small client is enough: keep-alive connections reused
last-in-first-out, bodies framed by Content-Length or chunked both ways, streamed as they
arrive.  Content codings pass through untouched (the client decodes them, not the proxy).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

Headers = list[tuple[bytes, bytes]]
Connector = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]

HEAD_LIMIT = 1024 * 1024  # the largest response head accepted, like a front proxy's buffer
READ_CHUNK = 64 * 1024
# an idle connection older than this is not reused: servers close idle keep-alive
# connections after a few seconds (uvicorn 5 s, gunicorn 2 s), and a request written into
# one that the server is closing fails for no fault of the request
REUSE_WITHIN_S = 1.0
MAX_IDLE = 1024
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_NO_BODY_STATUS = frozenset({204, 304})


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
        try:
            await _write_request(conn.writer, method, target, headers, body)
            status, response_headers = await _read_head(conn.reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            conn.close()
            raise UpstreamError(f"the worker's connection failed ({type(exc).__name__})") from exc
        except BaseException:  # a body over the limit, a cancelled request: the connection is mid-message
            conn.close()
            raise
        return UpstreamResponse(status, response_headers, self, conn, _framing(method, status, response_headers))

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


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, Headers]:
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head[:-4].split(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise UpstreamError(f"the worker answered something that is not HTTP/1.1: {status_line[:80]!r}")
        status = int(parts[1])
        if status >= 200 or status == 101:  # 1xx interim responses (100 Continue) come before the real one
            return status, [_header(line) for line in lines if line]


def _header(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    return name.strip(), value.strip()


# -- response bodies -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Framing:
    length: int | None  # Content-Length; None: chunked, or until the connection closes
    chunked: bool = False
    keep_alive: bool = True


def _framing(method: str, status: int, headers: Headers) -> Framing:
    close = any(k.lower() == b"connection" and b"close" in v.lower() for k, v in headers)
    if method == "HEAD" or status in _NO_BODY_STATUS or 100 <= status < 200:
        return Framing(0, keep_alive=not close)
    for key, value in headers:
        name = key.lower()
        if name == b"transfer-encoding" and b"chunked" in value.lower():
            return Framing(None, chunked=True, keep_alive=not close)
        if name == b"content-length" and value.isdigit():
            return Framing(int(value), keep_alive=not close)
    return Framing(None, keep_alive=False)  # HTTP/1.0 style: the body ends when the connection does


class UpstreamResponse:
    def __init__(self, status: int, headers: Headers, pool: UpstreamPool, conn: Connection, framing: Framing) -> None:
        self.status_code, self.headers = status, headers
        self._pool, self._conn, self._framing = pool, conn, framing
        self._done = framing.length == 0
        self._released = False

    @property
    def length(self) -> int | None:
        """The body's size when the worker declared it (Content-Length)."""
        return None if self._framing.chunked else self._framing.length

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body as it arrives (chunked framing removed; content codings kept)."""
        if self._done:
            return
        reader = self._conn.reader
        try:
            if self._framing.chunked:
                async for chunk in _chunked(reader):
                    yield chunk
            else:
                async for chunk in _sized(reader, self._framing.length):
                    yield chunk
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise UpstreamError(f"the worker's response broke off ({type(exc).__name__})") from exc
        self._done = True

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_raw()])

    async def aclose(self) -> None:
        """Return the connection for reuse when the whole body was read, else close it."""
        if self._released:
            return
        self._released = True
        if self._done and self._framing.keep_alive:
            self._pool._give_back(self._conn)
        else:
            self._conn.close()


async def _sized(reader: asyncio.StreamReader, length: int | None) -> AsyncIterator[bytes]:
    remaining = length
    while remaining is None or remaining > 0:
        chunk = await reader.read(READ_CHUNK if remaining is None else min(READ_CHUNK, remaining))
        if not chunk:
            if remaining is None:
                return  # read-until-close: the end of the connection is the end of the body
            raise asyncio.IncompleteReadError(b"", remaining)
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk


async def _chunked(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, dropped
                pass
            return
        chunk = await reader.readexactly(size)
        await reader.readexactly(2)
        yield chunk


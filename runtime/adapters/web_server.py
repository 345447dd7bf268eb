"""``@web_server(port)``: start the user's server once, wait until it accepts, then proxy to it.

Like AWS Lambda Web Adapter: the readiness check is a TCP connect loop on the port; the
proxy streams request and response bodies both ways with httpx and adds the usual
``X-Forwarded-*`` headers so the server sees the real client.

`WebServerProxy` is the ASGI app (uvicorn on ECS, ``toolkit serve``, replayed detached calls).
Lambda hands over one whole request, so the Lambda handler skips the event loop and calls
`WebServerProxy.open`: the same request (target, `forwarded_headers`) sent with the stdlib
``http.client`` on one keep-alive connection held for the life of the execution environment
(bench/bench_runtime.py: the async httpx stack per event cost ~40% of small-request
throughput).  A buffered front door takes the whole body (`forward`); a streaming Function
URL gets it piece by piece as the server sends it (`body_chunks`).

Front door (``runtime.FRONT_DOORS``): the SDK imports the header rules of the ``web_server`` proxy,
which ``toolkit serve``'s own proxy follows too; `__all__` is what it offers.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import re
import select
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from runtime.adapters.base import AdapterError, WebSpec
from runtime.gateway.auth import CREDENTIAL_HEADERS
from runtime.types import HeaderList, Message, Receive, Scope, Send

__all__ = [
    "HOP_BY_HOP",
    "LOCAL_HOST",
    "WebServerProxy",
    "WebServerStartupError",
    "build_web_server",
    "connection_options",
    "forwarded_headers",
    "hop_by_hop",
    "kept_headers",
    "request_target",
    "wait_for_port",
]

LOCAL_HOST = "127.0.0.1"
TCP_CLOSE = 7  # Linux's tcp_states.h: the state a reset leaves (a peer's plain close leaves CLOSE_WAIT, 8)
RESET_WAIT_S = 0.05  # how long a connection that ended unanswered is watched for the reset (loopback: microseconds)
# hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and must not be forwarded
log = logging.getLogger("toolkit.runtime")
HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
     b"transfer-encoding", b"upgrade", b"host"}
)
_CONNECTION_TOKENS = frozenset({b"", b"close", b"keep-alive"})
_NO_NAMES: frozenset[bytes] = frozenset()


def connection_options(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """The header names a ``Connection`` header lists: hop-by-hop too (RFC 9110 7.6.1), so not
    forwarded.  Lower-case; empty for the usual ``keep-alive`` / ``close`` (or no header)."""
    names: set[bytes] = set()
    for key, value in headers:  # on every request and response: the usual header costs a len()
        if len(key) == 10 and bytes(key).lower() == b"connection" and value.lower() not in _CONNECTION_TOKENS:
            names.update(token.strip().lower() for token in bytes(value).split(b","))
    return frozenset(names - _CONNECTION_TOKENS) if names else _NO_NAMES


def hop_by_hop(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """What a proxy must not forward from ``headers``: the fixed list plus what Connection names."""
    listed = connection_options(headers)
    return HOP_BY_HOP | listed if listed else HOP_BY_HOP


class WebServerStartupError(AdapterError):
    pass


def wait_for_port(port: int, timeout: float, host: str = LOCAL_HOST) -> float:
    """Block until ``host:port`` accepts TCP connections; returns seconds waited."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return time.monotonic() - started
        except OSError:
            if time.monotonic() >= deadline:
                raise WebServerStartupError(
                    f"The web server did not accept connections on port {port} within {timeout:g} s. "
                    f"Make sure it listens on 0.0.0.0:{port} (not another port), or raise "
                    f"startup_timeout in @web_server(port={port}, startup_timeout=...)."
                ) from None
            time.sleep(0.02)


def build_web_server(fn: Callable[..., Any], spec: WebSpec) -> WebServerProxy:
    if spec.port is None:
        raise AdapterError("@web_server needs a port: @web_server(port=8000).")
    fn()  # the user's function starts the server (a subprocess or a thread) and returns
    wait_for_port(spec.port, spec.startup_timeout)
    return WebServerProxy(spec.port)


class WebServerProxy:
    """An ASGI app forwarding HTTP to ``127.0.0.1:port``; one httpx client per event loop."""

    def __init__(self, port: int, host: str = LOCAL_HOST) -> None:
        self.host, self.port = host, port
        self.base_url = f"http://{host}:{port}"
        self._clients: dict[int, httpx.AsyncClient] = {}
        self._sync = threading.local()  # one keep-alive http.client connection per thread

    def unreachable(self, exc: BaseException) -> bytes:
        """The 502 body for a server that is down or broke the connection (logged: a gateway
        error, not a crash of the environment)."""
        log.warning("web_server request failed: %s: %s", type(exc).__name__, exc)
        return f"The web server on {self.host}:{self.port} did not answer: {type(exc).__name__}: {exc}".encode()

    def forward(self, scope: Scope, body: bytes) -> tuple[int, HeaderList, bytes]:
        """Send one whole request synchronously; returns ``(status, headers, body)``."""
        response = self.open(scope, body)
        data = _read_all(self, response)
        return response.status, kept_headers(response), data

    def open(self, scope: Scope, body: bytes,
             sent: Callable[[socket.socket], object] | None = None) -> http.client.HTTPResponse:
        """Send one request on the kept connection; returns its response with the body unread
        (read it to the end, with `body_chunks` or ``read()``, before the next request).

        The request is the one the ASGI path sends: `request_target`, `forwarded_headers` (hop-by-hop
        dropped, ``X-Forwarded-*`` added) and the body with its real Content-Length.  A kept
        connection the server closed while idle (uvicorn drops idle ones after 5 s; a frozen
        Lambda environment wakes to that) is replaced before use.  A request is sent again (once,
        on a fresh connection) only when the server provably read none of it (`_exchange`): a
        server that read a request and closed without answering may have acted on it, so that
        is a 502, not a replay.
        ``sent(sock)`` runs once the request is out, before the response is awaited.
        """
        method = scope["method"]
        headers = [(k, v) for k, v in forwarded_headers(scope) if k != b"content-length"]
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS", "TRACE"):
            headers.append((b"content-length", str(len(body)).encode()))
        target = _request_line_target(scope)
        conn, reused = self._connection()
        try:
            response = _exchange(conn, reused, method, target, headers, body, sent)
            if response is None:  # the server had closed the kept connection and read none of the request
                self.drop_connection()
                conn, _ = self._connection()
                response = _exchange(conn, False, method, target, headers, body, sent)
            assert response is not None
            self._sync.response = response
            return response
        except BaseException:
            self.drop_connection()  # a half-done exchange leaves the connection unusable
            raise

    def body_chunks(self, response: http.client.HTTPResponse, size: int = 1 << 20) -> Iterator[bytes]:
        """The response body as it arrives (each read returns what the socket has, up to ``size``),
        so a streamed body (SSE) is forwarded piece by piece and a large one in few large reads."""
        try:
            while chunk := response.read1(size):
                yield chunk
            # read1 leaves a Content-Length response open once its length is used up; read() closes
            # it, so the kept connection can carry the next request
            if rest := response.read():
                yield rest
        except BaseException:
            self.drop_connection()  # a body not read to its end leaves the connection unusable
            raise

    def drop_connection(self) -> None:
        """Close and forget this thread's connection: the next request gets a new one.  Never
        reuse the object: ``close()`` keeps what http.client buffered of a half-written request,
        and the next request would go out behind it, to be answered with that one's response."""
        conn: http.client.HTTPConnection | None = getattr(self._sync, "conn", None)
        self._sync.conn = self._sync.response = None
        if conn is not None:
            conn.close()

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's kept connection and whether it is already open (reused), else a new one."""
        conn: http.client.HTTPConnection | None = getattr(self._sync, "conn", None)
        last: http.client.HTTPResponse | None = getattr(self._sync, "response", None)
        if conn is not None and conn.sock is not None and (last is None or last.isclosed()) \
                and not _closed_by_peer(conn.sock):
            return conn, True
        if conn is not None:
            # closed by the server while idle, never opened, or the last response was not read to
            # its end (its reader gave up): the rest of it would come before the next response
            self.drop_connection()
        # no timeout: the proxied function has its own, the proxy must not cut it shorter
        conn = self._sync.conn = http.client.HTTPConnection(self.host, self.port)
        return conn, False

    def _client(self) -> httpx.AsyncClient:
        loop_id = id(asyncio.get_running_loop())
        client = self._clients.get(loop_id)
        if client is None:
            # the proxied function has its own timeout; the proxy must not cut it shorter
            client = httpx.AsyncClient(base_url=self.base_url, timeout=None, follow_redirects=False)
            self._clients[loop_id] = client
        return client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            from runtime.adapters.websocket_proxy import connect_tcp, relay_websocket

            target, headers = request_target(scope), forwarded_headers(scope)
            await relay_websocket(lambda: connect_tcp(self.host, self.port, target, scope, headers), receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = self._client().build_request(
            scope["method"], request_target(scope), headers=forwarded_headers(scope), content=await _request_body(receive)
        )
        response = await self._client().send(request, stream=True)
        try:
            hop = hop_by_hop(response.headers.raw)
            headers = [(k, v) for k, v in response.headers.raw if k.lower() not in hop]
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


def _exchange(conn: http.client.HTTPConnection, reused: bool, method: str, target: str, headers: HeaderList,
              body: bytes, sent: Callable[[socket.socket], object] | None) -> http.client.HTTPResponse | None:
    """Send the request and wait for its response head; None when the connection was ``reused``
    and the server read none of the request, so that sending it again runs it once.

    That is provable two ways: a write failed (the server had closed the connection: the reset
    that fails the body's write answered the head, microseconds before), or, for a request
    without a body (all of it in one write), the connection ended and the
    server's kernel then answered the request's bytes with a reset: it does so only for bytes
    that reached a socket already closed, or that the server closed unread.  A server that read
    the request and closed leaves no reset (`_reset_by_peer`)."""
    try:
        _send_head(conn, method, target, headers)
        if body:
            conn.send(body)
    except (ConnectionResetError, BrokenPipeError):
        if reused:
            return None
        raise
    assert conn.sock is not None
    if sent is not None:
        sent(conn.sock)
    watch = conn.sock.dup() if reused and not body else None  # getresponse closes the socket on failure
    try:
        return conn.getresponse()
    except ConnectionError:
        if watch is not None and _reset_by_peer(watch):
            return None
        raise
    finally:
        if watch is not None:
            watch.close()


def _reset_by_peer(sock: socket.socket, wait_s: float = RESET_WAIT_S) -> bool:
    """Whether the peer reset the connection (Linux: TCP state CLOSE rather than CLOSE_WAIT, the
    state of a connection the peer only closed), waiting up to ``wait_s`` for the reset to arrive.
    False where the state cannot be read (not TCP, not Linux): then nothing is retried."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
        except (OSError, AttributeError):
            return False
        if state == TCP_CLOSE:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)


def _send_head(conn: http.client.HTTPConnection, method: str, target: str, headers: HeaderList) -> None:
    """The request head, in one write of its own: its failure shows the server read none of it."""
    # putrequest adds Host (127.0.0.1:port, as httpx does); no Accept-Encoding is invented
    conn.putrequest(method, target, skip_accept_encoding=True)
    for name, value in headers:
        conn.putheader(name.decode("latin-1"), value.decode("latin-1"))
    conn.endheaders()


def _read_all(proxy: WebServerProxy, response: http.client.HTTPResponse) -> bytes:
    try:
        return response.read()  # to the end, so the connection can carry the next request
    except BaseException:
        proxy.drop_connection()
        raise


def kept_headers(response: http.client.HTTPResponse) -> HeaderList:
    """The upstream response's headers minus hop-by-hop ones, as bytes (one entry per line)."""
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.getheaders()]
    hop = hop_by_hop(raw)
    return [(k, v) for k, v in raw if k.lower() not in hop]


def _request_line_target(scope: Scope) -> str:
    """`request_target`, with what a request line may not carry (spaces, controls, non-ASCII bytes)
    percent-encoded, as httpx does on the ASGI path; existing escapes are kept."""
    target = request_target(scope)
    if target.isascii() and not _UNSAFE_IN_TARGET.search(target):
        return target
    return quote(target, safe=_TARGET_SAFE, encoding="latin-1")  # latin-1: one char per raw byte


_UNSAFE_IN_TARGET = re.compile("[\x00-\x20\x7f]")
_TARGET_SAFE = "/?#[]@!$&'()*+,;=:-._~%"


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable has been closed (EOF) or broken by the server."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def request_target(scope: Scope) -> str:
    """The request line's target: the raw path as the client sent it, plus the query."""
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def forwarded_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The request headers minus hop-by-hop ones (those Connection names too) and the proxy-auth
    secret, with ``X-Forwarded-For/Proto/Host`` added."""
    headers = [(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers", [])]
    hop = hop_by_hop(headers) | CREDENTIAL_HEADERS  # the gateway consumed the proxy-auth secret
    kept = [(k, v) for k, v in headers if k not in hop and not k.startswith(b"x-forwarded-")]
    prior = b", ".join(v for k, v in headers if k == b"x-forwarded-for")
    client = (scope.get("client") or (None, 0))[0]
    chain = b", ".join(p for p in (prior, client.encode() if client else b"") if p)
    if chain:
        kept.append((b"x-forwarded-for", chain))
    kept.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
    host = next((v for k, v in headers if k == b"host"), None)
    if host:
        kept.append((b"x-forwarded-host", host))
    return kept


async def _request_body(receive: Receive) -> bytes | AsyncIterator[bytes]:
    """The whole body when it came in one message (Lambda always; sent with a Content-Length,
    which simple servers need), else a stream of the rest (chunked)."""
    first: Message = await receive()
    if first["type"] != "http.request" or not first.get("more_body"):
        return bytes(first.get("body", b""))
    return _stream_rest(bytes(first.get("body", b"")), receive)


async def _stream_rest(head: bytes, receive: Receive) -> AsyncIterator[bytes]:
    if head:
        yield head
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return
        if message.get("body"):
            yield message["body"]
        if not message.get("more_body"):
            return


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

"""The gateway's HTTP relay: requests to endpoints go from the client's connection to a
worker's, by callbacks, below ASGI.

Why: through uvicorn's ASGI cycle (a scope, a task and message dicts per request, then a
coroutine client to the worker) the gateway spent about as much CPU per request as the
FastAPI app behind it (bench/bench_serve.py).  A proxy needs none of that: it parses the
request (httptools, in uvicorn's protocol), writes it to a kept-alive worker connection
(`toolkit.serve.upstream.Connection`), and writes the response back as it is parsed.

`RelayHTTPProtocol` is uvicorn's HTTP protocol (with coalesced writes) whose
``on_headers_complete`` hands each request for an endpoint to a `RelayCycle`; everything
else stays uvicorn's: the index, 400/404 for hosts, result URLs and WebSocket handshakes
go to the ASGI app (`ServeGateway.__call__`), and uvicorn keeps the connection's life
(keep-alive timeout, pipelining, 400 on a malformed request, graceful shutdown).  A
`RelayCycle` stands where uvicorn keeps its ``RequestResponseCycle`` and has the attributes
uvicorn reads there.

What the relay decides is the gateway's (`toolkit.serve.gateway.ServeGateway`): routing,
the `runtime.gateway` admission checks, failures, the budget (303) and the timeout (504).
Only the wire work is here.  Asynchronous steps (waiting for a worker to start or free up,
opening a connection, recording a detached call) get a task; the usual request has none.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from runtime.adapters.web_server import HOP_BY_HOP, connection_options
from runtime.gateway.detach import see_other
from runtime.gateway.limits import check_body_size
from runtime.gateway.middleware import rejection_response, text_response
from runtime.gateway.records import HTTPRequestRecord, HTTPResponseRecord
from runtime.types import Scope
from toolkit.serve.httpio import CoalescingHTTPProtocol, CoalescingTransport
from toolkit.serve.proxy import upstream_headers, whole_response
from toolkit.serve.upstream import IDEMPOTENT, Connection, UpstreamError, _Message, encode_request_head

if TYPE_CHECKING:
    from toolkit.serve.gateway import ServeGateway
    from toolkit.serve.routes import Endpoint
    from toolkit.serve.workers import Worker, WorkerPool

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CHUNKED = b"transfer-encoding: chunked\r\n"
LAST_CHUNK = b"0\r\n\r\n"
NO_BODY_STATUS = frozenset({204, 304})
BUFFER_HIGH = 64 * 1024  # request body held before a worker connection is ready: stop reading the client past it
# response headers the relay sets itself; Date too when the gateway adds its own
_NOT_RELAYED = HOP_BY_HOP | {b"date"}
_UPSTREAM_SKIP = frozenset({b"expect"})  # answered here (100 Continue), not by the worker
_IDEMPOTENT = frozenset(method.encode() for method in IDEMPOTENT)


def relay_protocol(gateway: ServeGateway) -> type[RelayHTTPProtocol]:
    """The protocol class for uvicorn's ``http=`` setting, bound to ``gateway``."""
    return type("BoundRelayHTTPProtocol", (RelayHTTPProtocol,), {"gateway": gateway})


class _NoEvent:
    """uvicorn sets ``cycle.message_event`` when a connection is lost; the relay hears it elsewhere."""

    def set(self) -> None:
        pass


class RelayHTTPProtocol(CoalescingHTTPProtocol):
    gateway: ServeGateway
    responding: RelayCycle | None = None  # the relayed request whose response is being written
    bad_request: str | None = None  # a malformed request's 400, held until the responses before it went out
    out: CoalescingTransport  # the client's transport, as `CoalescingHTTPProtocol` wraps it

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.out = cast(CoalescingTransport, self.transport)

    def on_headers_complete(self) -> None:
        parser = self.parser
        if parser.should_upgrade() and self._should_upgrade():
            super().on_headers_complete()  # a WebSocket handshake: uvicorn hands it to the ASGI app
            return
        endpoint = self.gateway.relay_endpoint(self.headers, self.url)
        if endpoint is None:
            super().on_headers_complete()
            return
        http10 = parser.get_http_version() == "1.0"
        cycle = RelayCycle(self, endpoint, parser.get_method(), http10=http10,
                           keep_alive=parser.should_keep_alive() and not http10)
        existing, self.cycle = self.cycle, cycle  # type: ignore[assignment]
        if existing is None or existing.response_complete:
            cycle.start()
        else:  # pipelined behind a response still being written: uvicorn starts it after that one
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, None))  # type: ignore[arg-type]

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if isinstance(cycle, RelayCycle):
            cycle.start()
        else:
            super()._start_asgi_task(cycle, app)

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if isinstance(cycle, RelayCycle):
            cycle.request_body(body)
        else:
            super().on_body(body)

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if isinstance(cycle, RelayCycle):
            cycle.request_done()
        else:
            super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and _request_read(cycle):
            # a malformed request pipelined behind others: they are answered first, then the
            # 400 (uvicorn would write it at once, where the client expects the first response)
            self.bad_request = msg
            self.flow.pause_reading()
            return
        super().send_400_response(msg)

    def on_response_complete(self) -> None:
        if self.bad_request is not None and not self.pipeline:
            self.server_state.total_requests += 1
            super().send_400_response(self.bad_request)
            return
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        for cycle in {self.responding, self.cycle}:
            if isinstance(cycle, RelayCycle):
                cycle.client_lost()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.responding is not None:
            self.responding.client_writable(False)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.responding is not None:
            self.responding.client_writable(True)


def _request_read(cycle: Any) -> bool:
    """Whether the whole request of ``cycle`` (a `RelayCycle` or uvicorn's) was parsed."""
    return cycle.body_done if isinstance(cycle, RelayCycle) else not cycle.more_body


class RelayCycle:
    """One relayed request: the client's side (request body in, response out) and the worker's
    (a connection, the response parsed as it comes).  Also the upstream connection's `Listener`."""

    message_event = _NoEvent()

    def __init__(self, protocol: RelayHTTPProtocol, endpoint: Endpoint, method: bytes, http10: bool,
                 keep_alive: bool) -> None:
        self.protocol, self.gateway, self.endpoint = protocol, protocol.gateway, endpoint
        self.scope, self.url = cast(Scope, protocol.scope), protocol.url  # uvicorn's, with headers, client, scheme
        self.method, self.http10, self.keep_alive = method, http10, keep_alive
        self.expect_continue = protocol.expect_100_continue
        # the client's side, as uvicorn reads it
        self.response_started = self.response_complete = self.disconnected = False
        self.client_paused = False
        self.chunked_out = False  # the response body goes to the client chunk-encoded
        # the request body
        self.body_seen, self.body_done = 0, False
        self.body_pending: list[bytes] = []  # what came before a worker connection was ready
        self.chunked_in = False
        self.length: int | None = None  # the request's Content-Length (the first, if repeated)
        # the worker's side
        self.pool: WorkerPool | None = None
        self.worker: Worker | None = None
        self.conn: Connection | None = None
        self.message: _Message | None = None
        self.upstream_done = False
        self.retry_head: bytes | None = None  # the whole request, when it may be sent again on a fresh connection
        self.detached: asyncio.Future[HTTPResponseRecord] | None = None  # past the budget: the response is collected
        self.collected: list[bytes] = []
        self.path: bytes | None = None  # the target to forward (origin-form), checked in start()

    # -- start ------------------------------------------------------------------------------------
    def start(self) -> None:
        gateway, endpoint = self.gateway, self.endpoint
        self.protocol.responding = self
        for name, value in self.scope["headers"]:
            if name == b"transfer-encoding":
                self.chunked_in = True
            elif name == b"content-length" and self.length is None:
                self.length = int(value)
        self.path = request_path(self.url)
        if self.path is None:  # CONNECT's authority-form, a port over 65535: nothing to forward
            self.fail_before_worker(text_response(400, f"The request target {self.url.decode('latin-1')!r} is not "
                                                       "a path or an absolute http URL; send e.g. GET /path."))
            return
        rejection = gateway.admit(endpoint, self.scope)
        if rejection is not None:
            self.fail_before_worker(rejection_response(rejection))
            return
        try:
            acquired = gateway.try_acquire(endpoint, self.query)
        except Exception as exc:  # noqa: BLE001 - InvalidError / WorkerStartError: the client gets the message
            self.fail_before_worker(gateway.failure(endpoint, exc))
            return
        gateway.budgets.add(gateway.limits.budget, self, self.budget_spent)
        conn = acquired[1].upstream.idle_connection() if acquired is not None else None
        if acquired is not None and conn is not None:
            self.send(acquired[0], acquired[1], conn)
        else:
            self.run(self.start_later(acquired))

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a step of this request in the background; whatever it raises ends the request (a 500),
        never an exception nobody retrieves while the client and a worker slot wait forever."""
        self.gateway.spawn(self.guarded(work))

    async def guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception as exc:  # noqa: BLE001 - a bug here must still answer the client and free the worker
            self.crashed(exc)

    def crashed(self, exc: Exception) -> None:
        tag = self.endpoint.tag
        self.gateway.log(f"{tag}: toolkit serve failed relaying a request: "
                         + "".join(traceback.format_exception(exc)).rstrip())
        record = text_response(500, f"toolkit serve failed relaying this request to {tag} "
                                    f"({type(exc).__name__}: {exc}); the gateway log has the traceback.")
        self.abandon_upstream()
        if self.detached is not None:
            self.settle(record)
        elif not self.response_started and not self.disconnected:
            self.answer(record)
        elif not self.response_complete:
            self.protocol.transport.close()

    @property
    def query(self) -> bytes:
        return self.url.partition(b"?")[2]

    async def start_later(self, acquired: tuple[WorkerPool, Worker] | None) -> None:
        """The slow start: wait for a worker (starting one, or queued behind busy ones), open a connection."""
        gateway, endpoint = self.gateway, self.endpoint
        try:
            pool, worker = acquired or await gateway.acquire(endpoint, self.query)
        except Exception as exc:  # noqa: BLE001
            self.fail_before_worker(gateway.failure(endpoint, exc))
            return
        try:
            conn = worker.upstream.idle_connection() or await worker.upstream.new_connection()
        except UpstreamError as exc:
            self.pool, self.worker = pool, worker
            self.upstream_failed(exc, broken=True)
            return
        except BaseException:
            self.release(pool, worker)
            raise
        if self.gone or self.upstream_done:  # the client left, or was answered (413) while this waited
            conn.close()
            self.release(pool, worker)
            self.end_upstream()
            return
        self.send(pool, worker, conn)

    @property
    def gone(self) -> bool:
        """Nobody waits for this request any more: the client left before anything was sent."""
        return self.disconnected and self.detached is None and not self.response_started

    def fail_before_worker(self, record: HTTPResponseRecord) -> None:
        self.end_upstream()
        if self.detached is not None:
            self.settle(record)
        elif not self.response_started:
            self.answer(record)

    # -- the request, to the worker ---------------------------------------------------------------------
    def send(self, pool: WorkerPool, worker: Worker, conn: Connection) -> None:
        gateway = self.gateway
        self.pool, self.worker, self.conn = pool, worker, conn
        self.message = conn.begin(self, head_only=self.method == b"HEAD")
        gateway.timeouts.add(self.endpoint.timeout, self, self.timed_out)
        if self.chunked_in:
            framing = CHUNKED
        elif self.length is not None:
            framing = b"content-length: %d\r\n" % self.length
        else:
            framing = b"" if self.method in _IDEMPOTENT else b"content-length: 0\r\n"
        headers = upstream_headers(self.scope, worker)
        if self.expect_continue:
            headers = [(k, v) for k, v in headers if k not in _UPSTREAM_SKIP]
        head = encode_request_head(self.method, self.target(), headers, framing)
        pending, self.body_pending = self.body_pending, []
        if self.length is None and not self.chunked_in and conn.reused and self.method in _IDEMPOTENT:
            self.retry_head = head
        conn.write(head + b"".join(self.frame(chunk) for chunk in pending) if pending else head)
        if self.body_done:
            if self.chunked_in:
                conn.write(LAST_CHUNK)
        elif self.expect_continue and not self.response_started:
            self.protocol.transport.write(CONTINUE)
        self.protocol.flow.resume_reading()

    def target(self) -> bytes:
        assert self.path is not None  # checked in start()
        return self.path

    def frame(self, chunk: bytes) -> bytes:
        return _chunk(chunk) if self.chunked_in else chunk

    def request_body(self, chunk: bytes) -> None:
        if self.upstream_done:
            return  # nobody to send it to (answered already): read and dropped, as uvicorn does
        self.body_seen += len(chunk)
        if self.body_seen > self.gateway.limits.max_body_bytes:
            self.body_too_large()
            return
        if self.conn is None:
            self.body_pending.append(chunk)
            if self.body_seen > BUFFER_HIGH:  # all of it is pending: nothing was sent yet
                self.protocol.flow.pause_reading()
        else:
            self.conn.write(self.frame(chunk))

    def request_done(self) -> None:
        self.body_done = True
        if self.conn is not None and not self.upstream_done and self.chunked_in:
            self.conn.write(LAST_CHUNK)

    def body_too_large(self) -> None:
        limits = self.gateway.limits
        rejection = check_body_size(self.body_seen, limits.max_body_bytes, self.gateway.backend_name)
        assert rejection is not None
        self.keep_alive = False
        self.abandon_upstream()
        if self.detached is not None:
            self.settle(rejection_response(rejection))
        if not self.response_started:
            self.answer(rejection_response(rejection))
        else:
            self.protocol.transport.close()

    # -- upstream.Listener ------------------------------------------------------------------------------
    def upstream_writable(self, writable: bool) -> None:
        # an upload faster than the worker reads it: stop reading the client until it catches up
        if writable:
            self.protocol.flow.resume_reading()
        elif not self.body_done:
            self.protocol.flow.pause_reading()

    def upstream_event(self) -> None:
        message = self.message
        if message is None or self.upstream_done:
            return
        if not message.head_done:
            if message.error is not None:
                self.head_failed(message.error)
            return
        if self.detached is not None:
            self.collect(message)
        elif not self.response_started:
            if self.disconnected:
                self.drop(message)
                return
            head = self.relay_head(message)
            if head is not None:
                self.relay_body(message, head)  # the usual response goes out whole, in one write
        elif not self.client_paused and self.detached is None:
            self.relay_body(message, [])

    def head_failed(self, error: UpstreamError) -> None:
        conn = self.conn
        if self.retry_head is not None and conn is not None and conn.reused:
            head, self.retry_head = self.retry_head, None
            assert self.worker is not None
            self.worker.upstream.finish(conn, reusable=False)
            self.conn = self.message = None
            self.run(self.resend(head))  # the server closed that kept-alive connection as we wrote
            return
        self.upstream_failed(error, broken=True)

    async def resend(self, head: bytes) -> None:
        assert self.worker is not None and self.pool is not None
        try:
            conn = await self.worker.upstream.new_connection()
        except UpstreamError as exc:
            self.upstream_failed(exc, broken=True)
            return
        if self.upstream_done:
            conn.close()
            return
        self.conn, self.message = conn, conn.begin(self, head_only=self.method == b"HEAD")
        conn.write(head)

    def upstream_failed(self, error: Exception, broken: bool) -> None:
        record = self.gateway.failure(self.endpoint, error)
        self.abandon_upstream(broken=broken)
        if self.detached is not None:
            self.settle(record)
        elif not self.response_started and not self.disconnected:
            self.answer(record)
        elif self.response_started and not self.response_complete:
            self.protocol.transport.close()  # mid-body: the client sees the response break off

    def drop(self, message: _Message) -> None:
        """The client left before the response began (the work was let finish): a whole response
        is dropped; the rest of a longer one or a stream is not worth reading, so its connection closes."""
        if message.complete:
            assert self.conn is not None
            self.conn.take_body()
            self.finish_upstream()
        else:
            self.abandon_upstream()

    # -- the response, to the client --------------------------------------------------------------------
    def relay_head(self, message: _Message) -> list[bytes] | None:
        """The response head for the client (and the whole body when it is already here)."""
        status = message.status
        if status == 101:
            self.upstream_failed(UpstreamError("the worker switched protocols on a plain HTTP request"), broken=False)
            return None
        self.response_started = True
        default_headers = self.protocol.server_state.default_headers
        lines = [_status_line(status)]
        for name, value in default_headers:
            lines += (name, b": ", value, b"\r\n")
        skip = _NOT_RELAYED if default_headers else HOP_BY_HOP
        listed = connection_options(message.headers)
        if listed:
            skip = skip | listed
        sized = False
        for name, value in message.headers:
            lower = name.lower()
            if lower in skip:
                continue
            if lower == b"content-length":
                sized = True
            lines += (name, b": ", value, b"\r\n")
        body = b""
        if self.method == b"HEAD" or status in NO_BODY_STATUS or sized:
            pass  # the body, if any, goes as it comes, framed as the worker framed it
        elif message.complete:
            assert self.conn is not None
            body = b"".join(self.conn.take_body())
            lines.append(b"content-length: %d\r\n" % len(body))
        elif self.http10:
            self.keep_alive = False  # no chunked coding for HTTP/1.0: the body ends when the connection does
        else:
            self.chunked_out = True
            lines.append(CHUNKED)
        if not self.keep_alive:
            lines.append(b"connection: close\r\n")
        lines += (b"\r\n", body)
        return lines

    def relay_body(self, message: _Message, out: list[bytes]) -> None:
        """Send ``out`` and the body parsed so far, in one write; end the exchange if it is complete."""
        conn = self.conn
        assert conn is not None
        chunks = conn.take_body()
        if chunks and self.method != b"HEAD":
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            out.append(_chunk(data) if self.chunked_out else data)
        if message.complete and self.chunked_out:
            out.append(LAST_CHUNK)
        if out:
            self.protocol.out.write_now(b"".join(out))
        if message.complete:
            self.finish_upstream()
            self.finish_client()
        elif message.error is not None:
            self.upstream_failed(message.error, broken=False)

    def client_writable(self, writable: bool) -> None:
        # a client slower than the worker: leave the body parsed but unsent, and the upstream
        # connection stops being read once that buffer is full (`upstream.BUFFER_HIGH`)
        self.client_paused = not writable
        if writable and self.message is not None and self.response_started and not self.upstream_done:
            self.relay_body(self.message, [])

    def answer(self, record: HTTPResponseRecord) -> None:
        """A response the gateway makes itself (a rejection, a failure, the 303, the 504)."""
        if not self.body_done:
            self.keep_alive = False  # the rest of an unread request body is not worth reading
        self.response_started = True
        self.protocol.out.write_now(encode_response(record, self.keep_alive, self.method == b"HEAD",
                                                      self.protocol.server_state.default_headers))
        self.finish_client()

    def finish_client(self) -> None:
        self.response_complete = True
        protocol = self.protocol
        if protocol.responding is self:
            protocol.responding = None
        if not self.keep_alive:
            protocol.transport.close()
        protocol.on_response_complete()

    def client_lost(self) -> None:
        if self.response_complete:
            return
        self.disconnected = True
        if not self.body_done:  # the rest of the body will never come: the worker would wait for it
            self.abandon_upstream()
            self.settle(text_response(400, "The client closed the connection before it sent the whole request body."))
        elif self.response_started and self.detached is None:
            self.abandon_upstream()  # a stream nobody reads any more: stop it (the worker cancels the request)

    # -- the budget and the timeout ---------------------------------------------------------------------
    def budget_spent(self) -> None:
        """No response began within the budget: the client gets 303 to a result URL; the work goes on."""
        if self.response_started or self.upstream_done or self.disconnected:
            return
        self.response_started = True
        self.detached = asyncio.get_running_loop().create_future()
        self.run(self.see_other(self.detached))

    async def see_other(self, result: asyncio.Future[HTTPResponseRecord]) -> None:
        call_id = await self.gateway.detached.detach(self.endpoint.tag, result)
        if not self.disconnected:
            self.answer(see_other(self.request_record(), call_id))

    def request_record(self) -> HTTPRequestRecord:
        path, _, query = self.target().partition(b"?")
        scope = dict(self.scope, method=self.method.decode("latin-1"), path=unquote(path.decode("latin-1")),
                     raw_path=path, query_string=query)
        return HTTPRequestRecord.from_scope(scope, b"")

    def collect(self, message: _Message) -> None:
        assert self.conn is not None
        self.collected.extend(self.conn.take_body())
        if message.complete:
            record = whole_response(message.status, message.headers, b"".join(self.collected))
            self.finish_upstream()
            self.settle(record)
        elif message.error is not None:
            self.upstream_failed(message.error, broken=False)

    def settle(self, record: HTTPResponseRecord) -> None:
        if self.detached is not None and not self.detached.done():
            self.detached.set_result(record)

    def timed_out(self) -> None:
        """The function's timeout passed: end the request (504, or a cut-off stream) and stop the work."""
        if self.upstream_done:
            return
        gateway, endpoint = self.gateway, self.endpoint
        gateway.log(f"{endpoint.tag}: a request ran past its timeout ({endpoint.timeout:g} s); it was ended")
        self.abandon_upstream(broken=gateway.stops_worker_on_timeout(endpoint))
        record = gateway.timeout_response(endpoint)
        if self.detached is not None:
            self.settle(record)
        elif not self.response_started and not self.disconnected:
            self.answer(record)
        elif not self.response_complete:
            self.protocol.transport.close()  # a response that began cannot change status: it is cut off

    # -- ending the worker's side -------------------------------------------------------------------------
    def finish_upstream(self) -> None:
        """The whole response was read: the connection is kept when the request was sent whole too."""
        if self.conn is not None and self.worker is not None:
            self.worker.upstream.finish(self.conn, reusable=self.body_done)
        self.release(self.pool, self.worker)
        self.end_upstream()

    def abandon_upstream(self, broken: bool = False) -> None:
        """Close the worker's connection mid-exchange (the worker then cancels the request)."""
        if self.upstream_done:
            return
        if self.conn is not None and self.worker is not None:
            self.worker.upstream.finish(self.conn, reusable=False)
        self.release(self.pool, self.worker, broken=broken)
        self.end_upstream()

    def release(self, pool: WorkerPool | None, worker: Worker | None, broken: bool = False) -> None:
        if pool is not None and worker is not None:
            self.pool = self.worker = None
            rest = pool.release_nowait(worker, broken=broken)
            if rest is not None:
                self.gateway.spawn(rest)

    def end_upstream(self) -> None:
        self.upstream_done = True
        gateway = self.gateway
        gateway.budgets.discard(gateway.limits.budget, self)
        gateway.timeouts.discard(self.endpoint.timeout, self)


def request_path(url: bytes) -> bytes | None:
    """The origin-form target (path and query) of a request's ``url``, or None when it has none."""
    if url.startswith(b"/"):
        return url
    try:
        parsed = httptools.parse_url(url)  # absolute-form (a client that thinks it talks to a proxy)
    except httptools.HttpParserInvalidURLError:
        return None
    if not parsed.path.startswith(b"/"):
        return None  # "*" (OPTIONS *) or no path at all
    return parsed.path + (b"?" + parsed.query if parsed.query else b"")


def encode_response(record: HTTPResponseRecord, keep_alive: bool, head_only: bool,
                    default_headers: list[tuple[bytes, bytes]]) -> bytes:
    status = record.status
    lines = [_status_line(status)]
    for name, value in [*default_headers, *record.headers]:
        if name.lower() not in (b"content-length", b"connection", b"transfer-encoding"):
            lines += (name, b": ", value, b"\r\n")
    lines.append(b"content-length: %d\r\n" % len(record.body))
    if not keep_alive:
        lines.append(b"connection: close\r\n")
    lines += (b"\r\n", b"" if head_only else record.body)
    return b"".join(lines)


def _status_line(status: int) -> bytes:
    return STATUS_LINE[status] if status in STATUS_LINE else b"HTTP/1.1 %d \r\n" % status


def _chunk(data: bytes) -> bytes:
    """One chunk of the chunked transfer coding."""
    return b"%x\r\n%s\r\n" % (len(data), data)

"""The gateway's HTTP relay: requests to endpoints go from the client's connection to a
worker's, by callbacks, below ASGI.

Why: through uvicorn's ASGI cycle (a scope, a task and message dicts per request, then a
coroutine client to the worker) the gateway spent about as much CPU per request as the
FastAPI app behind it (bench/bench_serve.py).  A proxy needs none of that: it parses the
request (httptools, in uvicorn's protocol), writes it to a kept-alive worker connection
(`toolkit.serve.upstream.Connection`), and writes the response back as it is parsed.

`RelayHTTPProtocol` is the gateway's protocol (`toolkit.serve.uvicorn_bridge`, which holds
every tie to uvicorn's internals): each request for an endpoint becomes a `RelayCycle`;
the index, 400/404 for hosts, result URLs and WebSocket handshakes stay with the ASGI app
(`ServeGateway.__call__`).

A `RelayCycle` is two small state machines, written down as `ClientSide` and
`UpstreamSide`, and every way a request can end early (a rejection, a failure, the
worker gone, the timeout, a body too large or too slow, a bug) goes through one method,
`RelayCycle.conclude`.  What the relay decides is the gateway's (`ServeGateway`): routing,
the `runtime.gateway` admission checks, failures, the budget (303) and the timeout (504).
Only the wire work is here.  Asynchronous steps (waiting for a worker to start or free up,
opening a connection, recording a detached call) get a task; the usual request has none.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import time
import traceback
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec
from urllib.parse import unquote

import httptools

from runtime.adapters.web_server import HOP_BY_HOP, connection_options
from runtime.callstore import new_call_id
from runtime.gateway.limits import check_body_size
from runtime.gateway.middleware import rejection_response, see_other, text_response
from runtime.gateway.records import HTTPRequestRecord, HTTPResponseRecord
from toolkit.local.request_calls import CALL_ID_HEADER
from toolkit.serve.guard import ClientLimits
from toolkit.serve.proxy import upstream_headers, whole_response
from toolkit.serve.upstream import IDEMPOTENT, Connection, ResponseMessage, UpstreamError, encode_request_head
from toolkit.serve.uvicorn_bridge import BridgedHTTPProtocol, RequestHead, check_uvicorn, status_line

if TYPE_CHECKING:
    from toolkit.serve.gateway import ServeGateway
    from toolkit.serve.routes import Endpoint
    from toolkit.serve.workers import WebWorker, WebWorkerPool

CHUNKED = b"transfer-encoding: chunked\r\n"
LAST_CHUNK = b"0\r\n\r\n"
NO_BODY_STATUS = frozenset({204, 304})
BUFFER_HIGH = 64 * 1024  # request body held before a worker connection is ready: stop reading the client past it
# response headers the relay sets itself; Date too when the gateway adds its own
_NOT_RELAYED = HOP_BY_HOP | {b"date"}
_UPSTREAM_SKIP = frozenset({b"expect"})  # answered here (100 Continue), not by the worker
_IDEMPOTENT = frozenset(method.encode() for method in IDEMPOTENT)
P = ParamSpec("P")


def relay_protocol(gateway: ServeGateway, limits: ClientLimits | None = None) -> type[RelayHTTPProtocol]:
    """The protocol class for uvicorn's ``http=`` setting, bound to ``gateway`` and the client ``limits``."""
    check_uvicorn()
    limits = limits or ClientLimits()
    return type("BoundRelayHTTPProtocol", (RelayHTTPProtocol,),
                {"gateway": gateway, "limits": limits, "cap": limits.connection_cap()})


class _NoEvent:
    """uvicorn sets ``cycle.message_event`` when a connection is lost; the relay hears it elsewhere."""

    def set(self) -> None:
        pass


class RelayHTTPProtocol(BridgedHTTPProtocol):
    gateway: ServeGateway

    def relayed_request(self, head: RequestHead) -> RelayCycle | None:
        endpoint = self.gateway.relay_endpoint(head.headers, head.url)
        return None if endpoint is None else RelayCycle(self, endpoint, head)


class ClientSide(enum.Enum):
    """How far the response to a relayed request got on the client's connection."""

    WAITING = "nothing sent yet: the gateway may still answer anything (a rejection, a failure, the 303)"
    RESPONDING = "the worker's response head went out; its body follows as it comes"
    DETACHED = "past the budget: the client gets (or got) a 303; the response goes to the call store"
    ANSWERED = "the whole response went out"
    GONE = "the client left before its response was complete (and before any 303)"


class UpstreamSide(enum.Enum):
    """How far the exchange with a worker got."""

    PENDING = "not sent yet: queued behind a pipelined response, or waiting for a worker slot or connection"
    SENT = "on a worker connection: the request goes out, the response comes back"
    DONE = "over: the response was read whole, or the exchange was abandoned or never needed"


def _concluding(method: Callable[Concatenate[RelayCycle, P], None]) -> Callable[Concatenate[RelayCycle, P], None]:
    """A callback into the relay (from the parser, a connection, a timer): whatever it raises
    ends its request (`RelayCycle.crashed`) instead of escaping into the event loop, where
    nobody would answer the client or free the worker."""

    @functools.wraps(method)
    def guarded(self: RelayCycle, /, *args: P.args, **kwargs: P.kwargs) -> None:  # positional self: as Concatenate
        try:
            method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            self.crashed(exc)

    return guarded


class RelayCycle:
    """One relayed request: the client's side (request body in, response out) and the worker's
    (a connection, the response parsed as it comes).  Also the upstream connection's `Listener`,
    and the `uvicorn_bridge.RelayedRequest` of its protocol."""

    message_event = _NoEvent()

    def __init__(self, protocol: RelayHTTPProtocol, endpoint: Endpoint, head: RequestHead) -> None:
        self.protocol, self.gateway, self.endpoint = protocol, protocol.gateway, endpoint
        self.scope, self.url, self.method = head.scope, head.url, head.method
        self.http10, self.keep_alive, self.expect_continue = head.http10, head.keep_alive, head.expect_continue
        self.client, self.upstream = ClientSide.WAITING, UpstreamSide.PENDING
        self.response_complete = False  # uvicorn's name: nothing more goes to the client for this request
        self.disconnected = False  # written by uvicorn when the connection is lost; the relay reads `client`
        self.client_paused = False  # the client's write buffer is full: leave the body parsed but unsent
        self.chunked_out = False  # the response body goes to the client chunk-encoded
        # the request
        self.path: bytes | None = None  # the target to forward (origin-form), checked in start()
        self.body_seen, self.body_done = 0, False
        self.body_pending: list[bytes] = []  # what came before a worker connection was ready
        self.chunked_in = False
        self.length: int | None = None  # the request's Content-Length (the first, if repeated)
        # the worker's side
        self.pool: WebWorkerPool | None = None
        self.worker: WebWorker | None = None
        self.conn: Connection | None = None
        self.message: ResponseMessage | None = None
        self.call_id: str | None = None  # the call the worker runs this request as (its poll id if detached)
        self.result: asyncio.Future[HTTPResponseRecord] | None = None  # detached: the response, for the result URL
        self.collected: list[bytes] = []
        self.started, self.status = time.time(), 0  # for the access log (`dashboard_activity`)

    # -- the one ending ----------------------------------------------------------------------------
    def conclude(self, record: HTTPResponseRecord, broken: bool = False) -> None:
        """End the request early with ``record``, wherever it can still go.

        The worker's side is abandoned (``broken``: its worker is replaced).  Detached, the
        record becomes the result URL's answer; with nothing sent yet, the client's; with a
        response under way, whose status cannot change, the connection is cut; a client gone
        hears nothing.
        """
        self.abandon_upstream(broken)
        if self.result is not None:
            if not self.result.done():
                self.result.set_result(record)
        elif self.client is ClientSide.WAITING:
            self.answer(record)
        elif self.client is ClientSide.RESPONDING:
            self.protocol.close()  # the client sees the response break off

    def crashed(self, exc: Exception) -> None:
        """A bug in the relay or the gateway: 500 with what went wrong, the traceback in the log."""
        tag = self.endpoint.tag
        self.gateway.log(f"{tag}: toolkit serve failed relaying a request: "
                         + "".join(traceback.format_exception(exc)).rstrip())
        try:
            self.keep_alive = False
            self.conclude(text_response(500, f"toolkit serve failed relaying this request to {tag} "
                                             f"({type(exc).__name__}: {exc}); the gateway log has the traceback."))
        except Exception:  # noqa: BLE001 - ending it failed too: the connection, at least, ends
            self.protocol.close()

    # -- start ------------------------------------------------------------------------------------
    def start(self) -> None:
        try:  # (inline here rather than @_concluding: called for every request)
            gateway, endpoint = self.gateway, self.endpoint
            self.protocol.responding = self
            hosts = 0
            for name, value in self.scope["headers"]:
                if name == b"transfer-encoding":
                    self.chunked_in = True
                elif name == b"content-length" and self.length is None:
                    self.length = int(value)
                elif name == b"host":
                    hosts += 1
            if hosts > 1:  # routed by the first, the worker might read the other (RFC 9112 3.2: 400)
                self.keep_alive = False
                self.conclude(text_response(400, "The request has more than one Host header; send exactly one."))
                return
            self.path = request_path(self.url)
            if self.path is None:  # CONNECT's authority-form, a port over 65535: nothing to forward
                self.conclude(text_response(400, f"The request target {self.url.decode('latin-1')!r} is not "
                                                 "a path or an absolute http URL; send e.g. GET /path."))
                return
            rejection = gateway.admit(endpoint, self.scope)
            if rejection is not None:
                self.conclude(rejection_response(rejection))
                return
            try:
                acquired = gateway.try_acquire(endpoint, self.query)
            except Exception as exc:  # noqa: BLE001 - InvalidError / WorkerStartError: the client gets the message
                self.conclude(gateway.failure(endpoint, exc))
                return
            gateway.budgets.add(gateway.limits.budget, self, self.budget_spent)
            conn = acquired[1].upstream.idle_connection() if acquired is not None else None
            if acquired is not None and conn is not None:
                self.send(acquired[0], acquired[1], conn)
            else:
                self.run(self.start_later(acquired))
        except Exception as exc:  # noqa: BLE001 - see _concluding
            self.crashed(exc)

    @property
    def query(self) -> bytes:
        return self.url.partition(b"?")[2]

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a step of this request in the background; whatever it raises ends the request (a 500),
        never an exception nobody retrieves while the client and a worker slot wait forever."""
        self.gateway.spawn(self.guarded(work))

    async def guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception as exc:  # noqa: BLE001 - a bug here must still answer the client and free the worker
            self.crashed(exc)

    async def start_later(self, acquired: tuple[WebWorkerPool, WebWorker] | None) -> None:
        """The slow start: wait for a worker (starting one, or queued behind busy ones), open a connection."""
        gateway, endpoint = self.gateway, self.endpoint
        try:
            pool, worker = acquired or await gateway.acquire(endpoint, self.query)
        except Exception as exc:  # noqa: BLE001
            self.conclude(gateway.failure(endpoint, exc))
            return
        self.pool, self.worker = pool, worker
        if self.unwanted():
            self.abandon_upstream()
            return
        try:
            conn = worker.upstream.idle_connection() or await worker.upstream.new_connection()
        except UpstreamError as exc:
            self.conclude(gateway.failure(endpoint, exc), broken=True)
            return
        except BaseException:
            self.abandon_upstream()
            raise
        if self.unwanted():
            conn.close()
            self.abandon_upstream()
            return
        self.send(pool, worker, conn)

    def unwanted(self) -> bool:
        """Whether a worker got while waiting is no longer needed: the request was ended meanwhile
        (a 413, a body too slow), or nobody waits for it any more."""
        return self.upstream is UpstreamSide.DONE or self.client is ClientSide.GONE

    # -- the request, to the worker ---------------------------------------------------------------------
    def send(self, pool: WebWorkerPool, worker: WebWorker, conn: Connection) -> None:
        gateway = self.gateway
        self.pool, self.worker, self.conn, self.upstream = pool, worker, conn, UpstreamSide.SENT
        self.message = conn.begin(self, head_only=self.method == b"HEAD")
        gateway.timeouts.add(self.endpoint.timeout, self, self.timed_out)
        if self.chunked_in:
            framing = CHUNKED
        elif self.length is not None:
            framing = b"content-length: %d\r\n" % self.length
        else:
            framing = b"" if self.method in _IDEMPOTENT else b"content-length: 0\r\n"
        headers = upstream_headers(self.scope, worker)
        if worker.socket_path:  # an ASGI/WSGI worker runs the request as a call: this one (`request_calls`)
            self.call_id = new_call_id()
            headers = [(k, v) for k, v in headers if k.lower() != CALL_ID_HEADER] + [(CALL_ID_HEADER,
                                                                                      self.call_id.encode())]
        if self.expect_continue:
            headers = [(k, v) for k, v in headers if k not in _UPSTREAM_SKIP]
        assert self.path is not None  # checked in start()
        head = encode_request_head(self.method, self.path, headers, framing)
        pending, self.body_pending = self.body_pending, []
        conn.write(head + b"".join(self.frame(chunk) for chunk in pending) if pending else head)
        if self.body_done:
            if self.chunked_in:
                conn.write(LAST_CHUNK)
        elif self.expect_continue and self.client is ClientSide.WAITING:
            self.protocol.send_continue()
        self.protocol.resume_reading()

    def frame(self, chunk: bytes) -> bytes:
        return _chunk(chunk) if self.chunked_in else chunk

    @_concluding
    def request_body(self, chunk: bytes) -> None:
        if self.upstream is UpstreamSide.DONE:
            return  # nobody to send it to (answered already): read and dropped, as uvicorn does
        self.body_seen += len(chunk)
        if self.body_seen > self.gateway.limits.max_body_bytes:
            self.body_too_large()
        elif self.conn is None:
            self.body_pending.append(chunk)
            if self.body_seen > BUFFER_HIGH:  # all of it is pending: nothing was sent yet
                self.protocol.pause_reading()
        else:
            self.conn.write(self.frame(chunk))

    def request_done(self) -> None:
        try:  # (inline here rather than @_concluding: called for every request)
            self.body_done = True
            if self.conn is not None and self.upstream is UpstreamSide.SENT and self.chunked_in:
                self.conn.write(LAST_CHUNK)
        except Exception as exc:  # noqa: BLE001 - see _concluding
            self.crashed(exc)

    def body_too_large(self) -> None:
        limits = self.gateway.limits
        rejection = check_body_size(self.body_seen, limits.max_body_bytes, self.gateway.served_by)
        assert rejection is not None
        self.keep_alive = False
        self.conclude(rejection_response(rejection))

    @_concluding
    def refused(self, status: int, message: str) -> None:
        """The client broke the protocol (400) or a limit (408: a body too slow) mid-request."""
        self.keep_alive = False
        self.conclude(text_response(status, message))

    # -- upstream.Listener ------------------------------------------------------------------------------
    @_concluding
    def upstream_writable(self, writable: bool) -> None:
        # an upload faster than the worker reads it: stop reading the client until it catches up
        if writable:
            self.protocol.resume_reading()
        elif not self.body_done:
            self.protocol.pause_reading()

    def upstream_event(self) -> None:
        try:  # (inline here rather than @_concluding: called for every request)
            message = self.message
            if message is None or self.upstream is not UpstreamSide.SENT:
                return
            if not message.head_done:
                if message.error is not None:
                    self.head_failed(message.error)
                return
            client = self.client
            if client is ClientSide.WAITING:
                head = self.relay_head(message)
                if head is not None:
                    self.relay_body(message, head)  # the usual response goes out whole, in one write
            elif client is ClientSide.DETACHED:
                self.collect(message)
            elif client is ClientSide.GONE:
                self.drop(message)
            elif client is ClientSide.RESPONDING and not self.client_paused:
                self.relay_body(message, [])
        except Exception as exc:  # noqa: BLE001 - see _concluding
            self.crashed(exc)

    def head_failed(self, error: UpstreamError) -> None:
        """The worker's connection ended (or went wrong) before a response began.

        Never sent again, even a GET on a kept-alive connection that the worker may have been
        closing as it was written: once written, the request may have been read and acted on
        (a web_server that read it and then closed), and a replay would run it twice.  A
        connection seen closed before the write is not used (`upstream.UpstreamPool.idle_connection`)."""
        self.upstream_failed(error, broken=True)

    def worker_gone(self) -> bool:
        """Whether the worker's process has exited, for a response that broke off mid-body.

        A worker alive may cut a response (its app raised mid-stream) and stays in use; a dead
        one is marked broken now, before the pool's watcher hears of the exit (a loop turn or
        more later), so that no request is sent to it in between."""
        worker = self.worker
        return worker is not None and (worker.proc.returncode is not None or process_gone(worker.proc.pid))

    def upstream_failed(self, error: Exception, broken: bool) -> None:
        self.conclude(self.gateway.failure(self.endpoint, error), broken=broken)

    def drop(self, message: ResponseMessage) -> None:
        """The client left before the response began (the work was let finish): a whole response
        is dropped; the rest of a longer one or a stream is not worth reading, so its connection closes."""
        if message.complete:
            assert self.conn is not None
            self.conn.take_body()
            self.finish_upstream()
        else:
            self.abandon_upstream()

    # -- the response, to the client --------------------------------------------------------------------
    def relay_head(self, message: ResponseMessage) -> list[bytes] | None:
        """The response head for the client (and the whole body when it is already here)."""
        status = message.status
        if status == 101:
            self.upstream_failed(UpstreamError("the worker switched protocols on a plain HTTP request"), broken=False)
            return None
        self.client, self.status = ClientSide.RESPONDING, status
        default_headers = self.protocol.default_headers
        lines = [status_line(status)]
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

    def relay_body(self, message: ResponseMessage, out: list[bytes]) -> None:
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
            self.client = ClientSide.ANSWERED
            self.finish_client()
        elif message.error is not None:
            self.upstream_failed(message.error, broken=self.worker_gone())

    @_concluding
    def client_writable(self, writable: bool) -> None:
        # a client slower than the worker: leave the body parsed but unsent, and the upstream
        # connection stops being read once that buffer is full (`upstream.BUFFER_HIGH`)
        self.client_paused = not writable
        if writable and self.message is not None and self.client is ClientSide.RESPONDING \
                and self.upstream is UpstreamSide.SENT:
            self.relay_body(self.message, [])

    def answer(self, record: HTTPResponseRecord) -> None:
        """A response the gateway makes itself (a rejection, a failure, the 303, the 504)."""
        if not self.body_done:
            self.keep_alive = False  # the rest of an unread request body is not worth reading
        if self.client is not ClientSide.DETACHED:
            self.client = ClientSide.ANSWERED
        self.status = record.status
        self.protocol.out.write_now(encode_response(record, self.keep_alive, self.method == b"HEAD",
                                                      self.protocol.default_headers))
        self.finish_client()

    def finish_client(self) -> None:
        self.response_complete = True
        client = self.scope.get("client")
        self.gateway.activity.request(self.endpoint.tag, self.method.decode("latin-1"), self.url.decode("latin-1"),
                                      self.status, self.started, f"{client[0]}:{client[1]}" if client else "")
        if not self.keep_alive:
            self.protocol.close()
        self.protocol.response_done()

    @_concluding
    def client_lost(self) -> None:
        if self.response_complete:
            return
        responding = self.client is ClientSide.RESPONDING
        if self.client is not ClientSide.DETACHED:
            self.client = ClientSide.GONE  # a detached request's work goes on: its result URL waits for it
        if not self.body_done:  # the rest of the body will never come: the worker would wait for it
            self.conclude(text_response(400, "The client closed the connection before it sent the whole request body."))
        elif responding:
            self.abandon_upstream()  # a stream nobody reads any more: stop it (the worker cancels the request)

    # -- the budget and the timeout ---------------------------------------------------------------------
    @_concluding
    def budget_spent(self) -> None:
        """No response began within the budget: the client gets 303 to a result URL; the work goes on."""
        if self.client is not ClientSide.WAITING or self.upstream is UpstreamSide.DONE:
            return
        self.client = ClientSide.DETACHED
        self.result = asyncio.get_running_loop().create_future()
        self.run(self.see_other(self.result))

    async def see_other(self, result: asyncio.Future[HTTPResponseRecord]) -> None:
        call_id = await self.gateway.detached.detach(self.endpoint.tag, result, self.call_id)
        if self.protocol.connected():
            self.answer(see_other(self.request_record(), call_id))

    def request_record(self) -> HTTPRequestRecord:
        path, _, query = (self.path or b"/").partition(b"?")
        scope = dict(self.scope, method=self.method.decode("latin-1"), path=unquote(path.decode("latin-1")),
                     raw_path=path, query_string=query)
        return HTTPRequestRecord.from_scope(scope, b"")

    def collect(self, message: ResponseMessage) -> None:
        assert self.conn is not None and self.result is not None
        self.collected.extend(self.conn.take_body())
        if message.complete:
            record = whole_response(message.status, message.headers, b"".join(self.collected))
            self.finish_upstream()
            if not self.result.done():
                self.result.set_result(record)
        elif message.error is not None:
            self.upstream_failed(message.error, broken=self.worker_gone())

    @_concluding
    def timed_out(self) -> None:
        """The function's timeout passed: end the request (504, or a cut-off stream) and stop the work."""
        if self.upstream is UpstreamSide.DONE:
            return
        gateway, endpoint = self.gateway, self.endpoint
        gateway.log(f"{endpoint.tag}: a request ran past its timeout ({endpoint.timeout:g} s); it was ended")
        self.conclude(gateway.timeout_response(endpoint), broken=gateway.stops_worker_on_timeout(endpoint))

    # -- ending the worker's side -------------------------------------------------------------------------
    def finish_upstream(self) -> None:
        """The whole response was read: the connection is kept when the request was sent whole too."""
        if self.conn is not None and self.worker is not None:
            self.worker.upstream.finish(self.conn, reusable=self.body_done)
        self.release()
        self.end_upstream()

    def abandon_upstream(self, broken: bool = False) -> None:
        """Close the worker's connection mid-exchange (the worker then cancels the request), and
        let go of a worker still held (one got while the request was being ended)."""
        if self.upstream is not UpstreamSide.DONE:
            if self.conn is not None and self.worker is not None:
                self.worker.upstream.finish(self.conn, reusable=False)
            self.end_upstream()
        self.release(broken=broken)

    def release(self, broken: bool = False) -> None:
        pool, worker, self.pool, self.worker = self.pool, self.worker, None, None
        if pool is not None and worker is not None:
            rest = pool.release_nowait(worker, broken=broken)
            if rest is not None:
                self.gateway.spawn(self.logged(rest))

    async def logged(self, work: Coroutine[Any, Any, None]) -> None:
        """The pool's part of a release (waking queued requests, stopping a worker), run after this
        request ended: a failure there is logged, not left for the event loop to report unretrieved."""
        try:
            await work
        except Exception as exc:  # noqa: BLE001 - see the docstring
            self.gateway.log(f"{self.endpoint.tag}: releasing a worker failed: {exc!r}")

    def end_upstream(self) -> None:
        self.upstream = UpstreamSide.DONE
        gateway = self.gateway
        gateway.budgets.discard(gateway.limits.budget, self)
        gateway.timeouts.discard(self.endpoint.timeout, self)


PF_EXITING = 0x4  # Linux's task flag, set as the task starts to exit (include/linux/sched.h)


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` exited or is exiting, a zombie not yet reaped included (Linux's /proc;
    elsewhere only the pool's watcher, through ``returncode``, can tell).

    The state letter alone leaves a window: the kernel closes a dying process's sockets before it
    becomes a zombie, so the worker's connection reads EOF while its state is still ``R``; the
    flags field has ``PF_EXITING`` from the start of the exit, before any socket is closed."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat_says_exited(stat.read())
    except FileNotFoundError:
        return True
    except OSError:
        return False


def stat_says_exited(stat: bytes) -> bool:
    """Whether a ``/proc/<pid>/stat`` line is a zombie's, or has ``PF_EXITING`` in its flags."""
    fields = stat.rpartition(b")")[2].split()  # after "(comm)", which may hold spaces: state, ..., flags
    if fields[:1] in ([b"Z"], [b"X"]):
        return True
    return len(fields) > 6 and fields[6].isdigit() and bool(int(fields[6]) & PF_EXITING)


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
    lines = [status_line(status)]
    for name, value in [*default_headers, *record.headers]:
        if name.lower() not in (b"content-length", b"connection", b"transfer-encoding"):
            lines += (name, b": ", value, b"\r\n")
    lines.append(b"content-length: %d\r\n" % len(record.body))
    if not keep_alive:
        lines.append(b"connection: close\r\n")
    lines += (b"\r\n", b"" if head_only else record.body)
    return b"".join(lines)


def _chunk(data: bytes) -> bytes:
    """One chunk of the chunked transfer coding."""
    return b"%x\r\n%s\r\n" % (len(data), data)

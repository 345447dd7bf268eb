"""Every use of uvicorn's private HTTP protocol internals, in one module.

serve's gateway and workers run uvicorn, and need more of its ``HttpToolsProtocol`` than
uvicorn makes public: writes gathered per event-loop turn (`CoalescingHTTPProtocol`), a
worker's request cancelled when its connection closes (`WorkerHTTPProtocol`), and for the
gateway (`BridgedHTTPProtocol`) requests relayed below ASGI (`toolkit.serve.relay`) plus the
client limits of `toolkit.serve.guard`.  All of that subclasses ``HttpToolsProtocol`` and
reads and writes its attributes; uvicorn may rename any of them in a minor release.  So it
is all here, the names it relies on are listed in `PRIVATE_NAMES`, `check_uvicorn` says
plainly when one moved (serve calls it at start; tests/serve/test_relay.py runs it), and
pyproject pins uvicorn to the releases this was tested with.

What the relay sees instead is small and documented: a `RequestHead` per request, the
`RelayedRequest` methods the protocol calls, and the protocol's own methods it may call
(`out`, `default_headers`, `pause_reading`, `resume_reading`, `send_continue`,
`response_done`, `close`, `connected`).
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, cast

import uvicorn
from uvicorn.protocols.http import flow_control, httptools_impl
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from runtime.types import ASGIApp, Receive, Scope, Send
from toolkit.serve.guard import FRAMING_ROOM, ClientLimits, Phase, ReadClock
from toolkit.serve.httpio import CoalescingTransport

TESTED_UVICORN = ">=0.55,<0.56"  # the range pyproject pins; widen both after running tests/serve
# what this module reads, writes, calls or overrides of uvicorn's private HTTP protocol
PRIVATE_NAMES: dict[str, tuple[str, ...]] = {
    "HttpToolsProtocol methods": (
        "connection_made", "connection_lost", "data_received", "on_message_begin", "on_headers_complete",
        "on_body", "on_message_complete", "on_response_complete", "send_400_response", "_should_upgrade",
        "_start_asgi_task", "pause_writing", "resume_writing", "shutdown"),
    "HttpToolsProtocol attributes": (
        "parser", "url", "headers", "scope", "expect_100_continue", "cycle", "pipeline", "flow", "transport",
        "server_state", "connections", "tasks", "loop"),
    "RequestResponseCycle attributes": ("response_started", "response_complete", "more_body", "disconnected",
                                        "keep_alive", "run_asgi"),
    "FlowControl attributes": ("read_paused", "pause_reading", "resume_reading"),
    "module names": ("httptools_impl.STATUS_LINE", "flow_control.FlowControl"),
}
_Uvicorn = HttpToolsProtocol  # its methods called directly on hot paths: no super() object per request
_UvicornCycle = httptools_impl.RequestResponseCycle
_HEAD, _BODY, _WAITING = Phase.HEAD, Phase.BODY, Phase.WAITING  # (an Enum member lookup costs several times a global's)
LINGER_S = 1.0  # how long a refused connection is read (and dropped) so that its 503 is not lost to a reset
MAX_LINGERING = 64  # past this many at once, a refused connection is closed at once


class UvicornMismatchError(RuntimeError):
    """The installed uvicorn lacks a private name serve's protocols rely on."""


def check_uvicorn(names: dict[str, tuple[str, ...]] = PRIVATE_NAMES) -> None:
    """Raise `UvicornMismatchError` naming what moved, if the installed uvicorn lacks one of ``names``."""
    missing = [f"{group}: {name}" for group, names_ in names.items() for name in names_ if not _has(group, name)]
    if missing:
        raise UvicornMismatchError(
            f"uvicorn {uvicorn.__version__} does not have what toolkit serve's protocols use "
            f"({'; '.join(missing)}). toolkit was tested with uvicorn{TESTED_UVICORN}: install that "
            f"(pip install 'uvicorn{TESTED_UVICORN}'), or update toolkit/serve/uvicorn_bridge.py.")


def _has(group: str, name: str) -> bool:
    if group == "module names":
        module, _, attr = name.partition(".")
        return hasattr({"httptools_impl": httptools_impl, "flow_control": flow_control}[module], attr)
    if group == "HttpToolsProtocol methods":
        return callable(getattr(HttpToolsProtocol, name, None))
    owner = {"HttpToolsProtocol attributes": HttpToolsProtocol,
             "RequestResponseCycle attributes": httptools_impl.RequestResponseCycle,
             "FlowControl attributes": FlowControl}[group]
    return hasattr(owner, name) or name in _attribute_names(owner)  # a method, or an instance attribute


def _attribute_names(cls: type) -> set[str]:
    """The attribute names the class's own methods use (their code objects' ``co_names``): where
    uvicorn sets its instance attributes (no source is read: this runs at every serve start)."""
    return set().union(*(f.__code__.co_names for f in vars(cls).values() if inspect.isfunction(f)))


# -- writes gathered per turn; a worker's protocol ------------------------------------------------
class CoalescingHTTPProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the writes of one event-loop turn sent as one ``send()``
    (`toolkit.serve.httpio.CoalescingTransport`)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        wrapped = CoalescingTransport(transport, self.loop)  # type: ignore[arg-type]  # a uvloop transport is not an asyncio.Transport subclass
        super().connection_made(wrapped)  # type: ignore[arg-type]


class WorkerHTTPProtocol(CoalescingHTTPProtocol):
    """A web worker's protocol: a request whose connection the gateway closes before its
    response is complete (the function's timeout passed, or a client left a stream) is
    cancelled rather than left running, as the platform ends a timed-out input.

    uvicorn itself only tells the app through ``receive()``, which a handler busy with its
    work never calls.  Cancelling stops async code at its next await; a sync handler running
    in a thread cannot be interrupted by Python and runs to its end (the gateway stops such a
    worker instead: `toolkit.serve.gateway.ServeGateway.stops_worker_on_timeout`).
    """

    _running: tuple[Any, asyncio.Task[None]] | None = None  # (cycle, its task): one at a time per connection

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        task = self.loop.create_task(cycle.run_asgi(_ended_quietly(app, cycle)))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)
        self._running = (cycle, task)

    def connection_lost(self, exc: Exception | None) -> None:
        running, self._running = self._running, None
        super().connection_lost(exc)
        if running is not None:
            cycle, task = running
            if not cycle.response_complete and not task.done():
                task.cancel()


def _ended_quietly(app: ASGIApp, cycle: Any) -> ASGIApp:
    """``app``, except that being cancelled because the connection went away is how a request
    ends here, not an error for uvicorn to log with a traceback."""

    async def run(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except asyncio.CancelledError:
            if not cycle.disconnected:
                raise

    return run


# -- the gateway's protocol -----------------------------------------------------------------------
@dataclass(slots=True)
class RequestHead:
    """A request whose head was just parsed, as the relay gets it."""

    method: bytes
    url: bytes  # the request target, as sent
    headers: list[tuple[bytes, bytes]]  # lower-case names
    scope: Scope  # uvicorn's ASGI scope for it (client, server, scheme, headers...)
    http10: bool
    keep_alive: bool
    expect_continue: bool


class RelayedRequest(Protocol):
    """What `BridgedHTTPProtocol` needs of a request it relays (`toolkit.serve.relay.RelayCycle`).

    It stands where uvicorn keeps its ``RequestResponseCycle``, so it also has the attributes
    uvicorn reads there: ``response_complete``, ``keep_alive`` (uvicorn's shutdown clears it),
    ``disconnected`` and ``message_event`` (set when the connection is lost).
    """

    response_complete: bool
    keep_alive: bool
    body_done: bool

    def start(self) -> None: ...
    def request_body(self, chunk: bytes) -> None: ...
    def request_done(self) -> None: ...
    def client_lost(self) -> None: ...
    def client_writable(self, writable: bool) -> None: ...
    def refused(self, status: int, message: str) -> None:
        """The client broke the protocol or a limit mid-request: end it with ``status``, close the connection."""


class _WatchedFlow(FlowControl):
    """uvicorn's flow control, telling the read clock when the gateway stops and resumes reading."""

    def __init__(self, transport: Any, clock: ReadClock, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(transport)
        self.clock, self.loop = clock, loop

    def pause_reading(self) -> None:
        if not self.read_paused:
            self.clock.pause(self.loop.time())
        super().pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused:
            self.clock.resume(self.loop.time())
        super().resume_reading()


class BridgedHTTPProtocol(CoalescingHTTPProtocol):
    """The gateway's protocol: uvicorn's, with the client limits of `toolkit.serve.guard`, and
    requests that `relayed_request` claims relayed below ASGI instead of going to the ASGI app.

    Everything else stays uvicorn's: the index, bad hosts, result URLs and WebSocket
    handshakes go to the ASGI app, and uvicorn keeps pipelining, 400 on a malformed request,
    the keep-alive timeout (set to `ClientLimits.idle_timeout`) and graceful shutdown.
    """

    limits: ClassVar[ClientLimits] = ClientLimits()
    cap: ClassVar[int] = ClientLimits().connection_cap()
    responding: RelayedRequest | None = None  # the relayed request whose response is being written
    held: bytes | None = None  # an error response, held until the responses before it went out
    out: CoalescingTransport  # the client's transport
    clock: ReadClock
    _timer: asyncio.TimerHandle | None = None

    def relayed_request(self, head: RequestHead) -> RelayedRequest | None:
        """The relayed request for ``head``, or None to leave it to the ASGI app."""
        return None

    # -- for the relay -----------------------------------------------------------------------
    @property
    def default_headers(self) -> list[tuple[bytes, bytes]]:
        return self.server_state.default_headers

    def pause_reading(self) -> None:
        self.flow.pause_reading()

    def resume_reading(self) -> None:
        flow = self.flow
        if flow.read_paused:  # (the usual case, not paused, costs no call)
            flow.resume_reading()

    def send_continue(self) -> None:
        """Ask for the request body (``Expect: 100-continue``); the client's body clock starts now."""
        self.out.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self.clock.phase is Phase.WAITING and not self.cycle_read():
            self.clock.body(self.loop.time())

    def response_done(self) -> None:
        """The relayed request's response is complete: the next pipelined request may start."""
        self.on_response_complete()

    def close(self) -> None:
        self.transport.close()

    def connected(self) -> bool:
        """Whether the client's connection is still open (not lost, not being closed)."""
        return not self.transport.is_closing()

    def cycle_read(self) -> bool:
        """Whether the whole request of the current cycle (relayed or uvicorn's) was read."""
        cycle: Any = self.cycle
        if cycle is None:
            return True
        return not cycle.more_body if isinstance(cycle, httptools_impl.RequestResponseCycle) else bool(cycle.body_done)

    # -- connection life -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if len(self.connections) >= self.cap:
            _refuse_connection(transport, len(self.connections))
            return
        super().connection_made(transport)
        self.out = self.transport  # type: ignore[assignment]  # the CoalescingTransport
        now = self.loop.time()
        self.clock = ReadClock(self.limits, now)
        self.flow = _WatchedFlow(self.transport, self.clock, self.loop)
        self._timer = self.loop.call_at(self.clock.next_check(now), self._check_clock)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for cycle in {self.responding, _relayed(self.cycle)}:
            if cycle is not None:
                cycle.client_lost()
        super().connection_lost(exc)

    def _check_clock(self) -> None:
        now = self.loop.time()
        why = self.clock.expired(now)
        if why is None:
            self._timer = self.loop.call_at(self.clock.next_check(now), self._check_clock)
            return
        self._timer = None
        if self.clock.phase is Phase.HEAD and not self.clock.head_bytes:
            self.transport.close()  # nothing was asked: a connection that never sent a request is closed quietly
        else:
            self.refuse(408, why + " The connection was closed.")

    def data_received(self, data: bytes) -> None:
        clock = self.clock
        phase = clock.phase
        if phase is _BODY:
            clock.body_bytes += len(data)
            clock.last_read = self.loop.time()
            _Uvicorn.data_received(self, data)
            if clock.phase is _BODY and clock.body_bytes - clock.body_data > FRAMING_ROOM:  # (the cheap test first)
                self._check_framing()
            return
        if phase is _WAITING:  # a head; after a request (WAITING), these bytes begin the next one's
            clock.head(self.loop.time())
        room = self.limits.max_head_bytes - clock.head_bytes
        if len(data) > room:
            self._past_head_room(data, room)
            return
        clock.head_bytes += len(data)
        _Uvicorn.data_received(self, data)

    def _check_framing(self) -> None:
        why = self.clock.framing_over()
        if why is not None and not self.transport.is_closing():
            self.refuse(400, why + " The connection was closed.")

    def _past_head_room(self, data: bytes, room: int) -> None:
        """Feed no more head than the cap allows: 431 if the head is not whole by then."""
        self.clock.read(room, self.loop.time())
        super().data_received(data[:room])
        if self.transport.is_closing() or self.transport.get_protocol() is not self:  # answered, or upgraded
            return
        if self.clock.phase is Phase.HEAD:
            self.refuse(431, f"The request head is over {self.limits.max_head_bytes} bytes, toolkit serve's limit "
                             "(--max-request-head, TOOLKIT_SERVE_MAX_HEAD_BYTES); send fewer or shorter headers.")
            return
        self.data_received(data[room:])

    # -- parser callbacks ----------------------------------------------------------------------
    def on_headers_complete(self) -> None:
        parser, clock = self.parser, self.clock
        if self.expect_100_continue:
            clock.waiting()  # the client waits for "100 Continue" (`send_continue`) before its body
        else:  # `ReadClock.body`, inline: every request passes here
            clock.phase, clock.body_bytes, clock.body_data = _BODY, 0, 0
            clock.body_start = clock.last_read = self.loop.time()
        if parser.should_upgrade() and self._should_upgrade():
            self._to_asgi_app()  # a WebSocket handshake: uvicorn hands it to the ASGI app
            return
        http10 = parser.get_http_version() == "1.0"
        head = RequestHead(parser.get_method(), self.url, self.headers, self.scope, http10,  # type: ignore[arg-type]
                           parser.should_keep_alive() and not http10, self.expect_100_continue)
        request = self.relayed_request(head)
        if request is None:
            self._to_asgi_app()
            return
        existing, self.cycle = self.cycle, request  # type: ignore[assignment]
        if existing is None or existing.response_complete:
            request.start()
        else:  # pipelined behind a response still being written: started after that one
            self.flow.pause_reading()
            self.pipeline.appendleft((request, None))  # type: ignore[arg-type]

    def _to_asgi_app(self) -> None:
        """Leave the request to uvicorn and the ASGI app, its body clock running from now.

        The relay starts the clock of an ``Expect: 100-continue`` body when it sends the 100;
        uvicorn sends one only if the app asks for the body before answering, which the
        gateway's own pages do not (an event stream reads only to hear the client leave).
        A body promised and never sent must still end in 408, as it does without Expect."""
        clock = self.clock
        if clock.phase is _WAITING:
            clock.body(self.loop.time())
        super().on_headers_complete()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if app is None:  # a relayed request that waited its turn
            cycle.start()
        else:
            super()._start_asgi_task(cycle, app)

    def on_body(self, body: bytes) -> None:
        self.clock.body_data += len(body)
        relayed = _relayed(self.cycle)
        if relayed is None:
            super().on_body(body)
        else:
            relayed.request_body(body)

    def on_message_complete(self) -> None:
        clock = self.clock  # `ReadClock.waiting`, inline: every request passes here
        clock.phase, clock.head_bytes = _WAITING, 0
        cycle: Any = self.cycle
        if cycle is None or isinstance(cycle, _UvicornCycle):
            _Uvicorn.on_message_complete(self)
        else:
            cycle.request_done()

    # -- refusals ------------------------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        self.refuse(400, msg)

    def refuse(self, status: int, message: str) -> None:
        """Answer a broken or over-limit request with ``status`` and close the connection.

        Requests pipelined before it are answered first (uvicorn would write the error at once,
        where the client expects the first response); one still being read ends with it.
        """
        cycle: Any = self.cycle
        if cycle is not None and not cycle.response_complete:
            if self.cycle_read():
                self.held = error_response(status, message, self.default_headers)
                self.flow.pause_reading()
                return
            if _relayed(cycle) is not None:
                cycle.refused(status, message)
                self.transport.close()
                return
            if cycle.response_started:
                self.transport.close()
                return
        self.out.write(error_response(status, message, self.default_headers))
        self.transport.close()

    def on_response_complete(self) -> None:
        if self.held is not None and not self.pipeline:
            self.server_state.total_requests += 1
            held, self.held = self.held, None
            self.out.write(held)
            self.transport.close()
            return
        if self.responding is not None and self.responding.response_complete:
            self.responding = None
        _Uvicorn.on_response_complete(self)

    # -- the client's write buffer ----------------------------------------------------------------
    def pause_writing(self) -> None:
        super().pause_writing()
        if self.responding is not None:
            self.responding.client_writable(False)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.responding is not None:
            self.responding.client_writable(True)


def _relayed(cycle: object) -> RelayedRequest | None:
    """``cycle`` when it is a relayed request (not uvicorn's own cycle, nor none)."""
    if cycle is None or isinstance(cycle, _UvicornCycle):
        return None
    return cast(RelayedRequest, cycle)


def error_response(status: int, message: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = message.encode("utf-8")
    lines = [STATUS_LINE[status]]
    for name, value in default_headers:
        lines += (name, b": ", value, b"\r\n")
    lines += (b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body),
              body)
    return b"".join(lines)


def status_line(status: int) -> bytes:
    return STATUS_LINE[status] if status in STATUS_LINE else b"HTTP/1.1 %d \r\n" % status


# -- refused connections --------------------------------------------------------------------------
class _Refused(asyncio.Protocol):
    """A connection over the cap: it gets 503 and is closed; what the client sends meanwhile is
    read and dropped for a moment, so that closing does not reset the connection before the
    client read its answer."""

    lingering = 0

    def __init__(self, transport: asyncio.BaseTransport, open_connections: int) -> None:
        self.transport = transport
        message = (f"toolkit serve has {open_connections} open connections, its limit "
                   "(--max-connections, TOOLKIT_SERVE_MAX_CONNECTIONS, lowered to fit the open-file limit); try again shortly.")
        transport.write(error_response(503, message, [(b"retry-after", b"1")]))  # type: ignore[attr-defined]
        if _Refused.lingering >= MAX_LINGERING:
            transport.close()
            return
        _Refused.lingering += 1
        self.closer = asyncio.get_running_loop().call_later(LINGER_S, transport.close)
        try:
            transport.write_eof()  # type: ignore[attr-defined]
        except (OSError, RuntimeError):
            transport.close()

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        self.transport.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        closer = getattr(self, "closer", None)
        if closer is not None:
            closer.cancel()
            _Refused.lingering -= 1


def _refuse_connection(transport: asyncio.BaseTransport, open_connections: int) -> None:
    transport.set_protocol(_Refused(transport, open_connections))

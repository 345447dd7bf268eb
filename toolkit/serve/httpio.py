"""How serve's processes run uvicorn: its fastest event loop, and coalesced writes.

`run` is ``asyncio.run`` on the loop uvicorn itself picks (``loop="auto"``: uvloop when it
is installed), since the gateway and the workers start uvicorn inside their own loop.

`CoalescingHTTPProtocol` is uvicorn's HTTP protocol (httptools when installed, else h11),
with the writes of one event-loop turn sent as one ``send()``.  `WorkerHTTPProtocol` is that
protocol in a worker, where a request whose connection closes mid-request is cancelled.

uvicorn writes a response's status line and headers as soon as the app sends
``http.response.start``, and the body with the next message: two system calls and two TCP
segments for every small response.  On loopback a send costs about as much as parsing the
request, and the gateway makes three of them per proxied request, so the gateway and the
worker both use this protocol: writes are gathered and flushed once the current callbacks
have run (``call_soon``), which costs no latency worth measuring.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from uvicorn.loops.auto import auto_loop_factory
from uvicorn.protocols.http.h11_impl import H11Protocol

from runtime.types import ASGIApp, Receive, Scope, Send

try:  # the parser uvicorn itself prefers when installed (`http="auto"`): several times h11's speed
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - httptools is optional
    _Base = H11Protocol  # type: ignore[misc,assignment]


T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
            return runner.run(main)
    return asyncio.run(main)  # pragma: no cover - Python 3.10 keeps the default loop


class CoalescingTransport:
    """Wraps a transport; everything but ``write`` and closing goes straight to it."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._pending: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes) -> None:
        self._pending.append(data)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def write_now(self, data: bytes) -> None:
        """Write at once, after anything pending: for a caller that already sends a whole response
        in one write (`toolkit.serve.relay`), where waiting for the end of the turn gains nothing."""
        if self._pending:
            self.flush()
        if not self._transport.is_closing():
            self._transport.write(data)

    def writelines(self, lines: list[bytes]) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        self._scheduled = False
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if data and not self._transport.is_closing():
                self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(d) for d in self._pending)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()  # what was written before close() still goes out, as with a plain transport
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHTTPProtocol(_Base):
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

"""How serve's processes run uvicorn: its fastest event loop, and coalesced writes.

`run` is ``asyncio.run`` on the loop uvicorn itself picks (``loop="auto"``: uvloop when it
is installed), since the gateway and the workers start uvicorn inside their own loop.

`CoalescingTransport` gathers the writes of one event-loop turn into one ``send()``; the
protocols that use it (the gateway's and the workers') subclass uvicorn's private HTTP
protocol, so they live in `toolkit.serve.uvicorn_bridge`.

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

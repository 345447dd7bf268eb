"""The request budget on a streaming Function URL: 303 to the result URL, and the work finishes
after the response, inside the same invocation.

On the buffered front doors a request that may outlive the budget is handed to Step Functions
up front (`runtime.gateway.budget.fits_inline`), because API Gateway cuts it at 30 s.  A Function
URL has no such cut, and a streamed response ends when the runtime closes the stream, not when
the invocation ends: Lambda freezes the environment only when the runtime asks for the next
event.  So here every request starts inline and streams; only if it has not *started* its
response when the budget runs out (as ``toolkit serve`` does) the client gets ``303`` to its
result URL, the stream is closed, and the same invocation keeps running the request to its end
and records the whole response in the call store, where a GET of the result URL finds it
(`runtime.gateway.Gateway`).  Nothing runs twice; the function's own timeout bounds the work.
"""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from runtime.callstore.base import CallStore
from runtime.events.streaming import OpenStream, StreamedResponse
from runtime.gateway.detach import open_detached_call, record_outcome
from runtime.gateway.middleware import see_other
from runtime.gateway.records import HTTPRequestRecord, HTTPResponseRecord
from runtime.types import Scope

# stop the detached work this long before Lambda's deadline, so its failure is still recorded
DEADLINE_MARGIN_S = 1.0
STOP_GRACE_S = 0.5  # how long cancelled work may take to unwind before its outcome is recorded
# the most response body a request past its budget keeps for its result URL: it is held in the
# invocation's memory (and stored whole, then read whole by the result URL's GET), so it is
# bounded well under Lambda's smallest memory sizes and its 200 MB streamed-response cap
MAX_DETACHED_RESPONSE_BYTES = 32 * 1024 * 1024


class OvertimeError(TimeoutError):
    """The request was still running when the invocation's time ran out."""


class DetachedResponseTooLargeError(Exception):
    """A request past its budget produced a response body over its limit (`too_large`)."""


def too_large(call_id: str, budget: float, limit: int) -> DetachedResponseTooLargeError:
    return DetachedResponseTooLargeError(
        f"The response to this request (call {call_id}) was over {limit} bytes ({limit / (1024 * 1024):g} MiB), "
        f"the most a request that ran past its {budget:g} s budget keeps for its result URL; it was stopped. "
        "Start the response within the budget (it then streams as it is produced, with no such limit), "
        "or return a smaller body (e.g. a link to the data in S3).")


@dataclass
class Overtime:
    store: Callable[[], CallStore]  # opened on first use: most requests never go over budget
    app_name: str
    function: str
    budget: float
    seconds_left: Callable[[], float | None]  # time left in the invocation; None when unknown
    max_response_bytes: int = MAX_DETACHED_RESPONSE_BYTES  # the most body a detached request keeps

    # -- the two steps -------------------------------------------------------------------------

    def begin(self, scope: Scope, open_stream: OpenStream) -> str:
        """Record a running call and answer 303 to its result URL; returns the call id."""
        call_id = open_detached_call(self.store(), self.app_name, self.function)
        see = see_other(HTTPRequestRecord.from_scope(scope, b""), call_id)
        StreamedResponse(open_stream).whole(see.status, see.headers, see.body)
        return call_id

    def finish(self, call_id: str, outcome: HTTPResponseRecord | BaseException) -> None:
        record_outcome(self.store(), call_id, outcome)

    def time_left(self) -> float | None:
        left = self.seconds_left()
        return None if left is None else max(0.0, left - DEADLINE_MARGIN_S)

    # -- the ASGI path -----------------------------------------------------------------------------

    def watch(self, scope: Scope, response: StreamedResponse) -> Callable[[asyncio.Future[None]], Awaitable[bool]]:
        """The hook `runtime.events.streaming.stream_asgi` calls with the running request."""
        return lambda run: self._watch(scope, response, run)

    async def _watch(self, scope: Scope, response: StreamedResponse, run: asyncio.Future[None]) -> bool:
        started: asyncio.Future[Any] = asyncio.ensure_future(response.started.wait())
        try:
            await asyncio.wait({run, started}, timeout=self.budget, return_when=asyncio.FIRST_COMPLETED)
        finally:
            started.cancel()
        if response.started.is_set() or run.done():
            return False
        record = response.divert(self.max_response_bytes)  # before any await: the app's messages are collected
        call_id = await asyncio.to_thread(self.begin, scope, response.open_stream)
        outcome = await self._outcome(call_id, run, response, record)
        await asyncio.to_thread(self.finish, call_id, outcome)
        return True

    async def _outcome(self, call_id: str, run: asyncio.Future[None], response: StreamedResponse,
                       record: HTTPResponseRecord) -> HTTPResponseRecord | BaseException:
        """The detached request's end: its response, or why it has none (too late, too large, an error).
        The work is cancelled when it runs out of time or its response outgrows the limit."""
        overflow: asyncio.Future[Any] = asyncio.ensure_future(response.too_large.wait())
        try:
            done, _ = await asyncio.wait({run, overflow}, timeout=self.time_left(),
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            overflow.cancel()
        if response.too_large.is_set():
            await _stop(run)
            return too_large(call_id, self.budget, self.max_response_bytes)
        if run not in done:
            await _stop(run)
            return OvertimeError(f"The request ran past the function's timeout (call {call_id}).")
        return run.exception() or record

    # -- the direct web_server path ------------------------------------------------------------------

    def wait_for_response(self, sock: socket.socket, scope: Scope, open_stream: OpenStream) -> str | None:
        """After a request went upstream: wait up to the budget for its first response bytes.
        None if they came; else the 303 is sent and the call id returned (read the rest whole)."""
        readable, _, _ = select.select([sock], [], [], self.budget)
        if readable:
            return None
        call_id = self.begin(scope, open_stream)
        sock.settimeout(self.time_left())  # the upstream read now ends with the invocation's time
        return call_id


async def _stop(run: asyncio.Future[None]) -> None:
    """Cancel the request's work and give it a moment to unwind (its ``finally`` blocks run)."""
    run.cancel()
    await asyncio.wait({run}, timeout=STOP_GRACE_S)

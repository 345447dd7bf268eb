"""Answer inside the request budget, or let the work go on and answer at its result URL.

For front ends that proxy a request as it runs (``toolkit serve``, the ECS HTTP server):
the request starts at once, streaming as usual; only if no response has *started* when
the budget runs out is it detached.  The work keeps running to completion in the
background, its whole response is recorded in the call store under a fresh call id, and
the client gets ``303`` to the result URL (see `budget`).  A GET of that URL waits up
to the budget again.  Nothing runs twice: the result URL only ever reads the store.

Framework-free: asyncio and the `CallStore` protocol only.

Front door (``runtime.FRONT_DOORS``): the SDK imports `DetachedCalls`: how ``toolkit serve`` lets an
over-budget request go on; `__all__` is what it offers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from runtime.callstore.base import CallStatus, CallStore, new_call_id
from runtime.gateway.budget import wait_for_finish
from runtime.gateway.middleware import finished_response, see_other, text_response
from runtime.gateway.records import HTTPRequestRecord, HTTPResponseRecord
from runtime.serialization import serialize, serialize_error

__all__ = ["DetachedCalls", "claim_detached_call", "open_detached_call", "record_outcome", "within_budget"]

T = TypeVar("T")


async def within_budget(work: asyncio.Future[T], budget: float) -> bool:
    """Wait up to ``budget`` seconds for ``work``; True if it finished.  Never cancels it."""
    done, _ = await asyncio.wait({work}, timeout=budget)
    return bool(done)


def open_detached_call(store: CallStore, app_name: str, function: str) -> str:
    """A new call record, already running, for a request that outlived its budget; its id."""
    call_id = new_call_id()
    store.create(call_id, app_name, function)
    store.mark_running(call_id)
    return call_id


def claim_detached_call(store: CallStore, app_name: str, function: str, call_id: str) -> bool:
    """Record the request's own call ``call_id`` (its handler's ``current_function_call_id()``) as
    running, for its result URL: True.  False when the handler's process recorded it already (it spawned
    before the budget ran out): that process finishes the record with the response itself."""
    try:
        store.create(call_id, app_name, function)
    except Exception:  # a store-specific duplicate-key error; anything else is raised below
        if store.get(call_id) is None:
            raise
        return False
    store.mark_running(call_id)
    return True


def record_outcome(store: CallStore, call_id: str, outcome: HTTPResponseRecord | BaseException) -> None:
    """The detached request's response (DONE), or why it has none (FAILED), for its result URL."""
    if not isinstance(outcome, BaseException):
        try:
            data = serialize(outcome)
        except Exception as exc:  # a response that cannot be stored is a failure the result URL reports
            outcome = exc
        else:
            store.complete(call_id, CallStatus.DONE, data)
            return
    store.complete(call_id, CallStatus.FAILED, serialize_error(outcome))


class DetachedCalls:
    """Requests that outlived the budget, finishing in the background of this process."""

    def __init__(self, store: CallStore, app_name: str) -> None:
        self.store, self.app_name = store, app_name
        self._running: set[asyncio.Future[None]] = set()  # strong references: tasks must not be collected

    async def detach(self, function: str, finish: Awaitable[HTTPResponseRecord], call_id: str | None = None) -> str:
        """Record a call for ``function`` whose response ``finish`` will produce; returns its id: ``call_id``
        (the call the request already is, `claim_detached_call`) when given, else a new one."""
        if call_id is None:
            call_id = await asyncio.to_thread(open_detached_call, self.store, self.app_name, function)
            ours = True
        else:
            ours = await asyncio.to_thread(claim_detached_call, self.store, self.app_name, function, call_id)
        task = asyncio.ensure_future(self._complete(call_id, finish) if ours else self._ignore(finish))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return call_id

    @staticmethod
    async def _ignore(finish: Awaitable[HTTPResponseRecord]) -> None:
        """The handler's process records this response: only let it finish (and its failure be read)."""
        with contextlib.suppress(Exception):
            await finish

    async def _complete(self, call_id: str, finish: Awaitable[HTTPResponseRecord]) -> None:
        outcome: HTTPResponseRecord | BaseException
        try:
            outcome = await finish
        except Exception as exc:  # the endpoint failing is a result the client gets at the result URL
            outcome = exc
        await asyncio.to_thread(record_outcome, self.store, call_id, outcome)

    async def answer(self, function: str, call_id: str, request: HTTPRequestRecord, budget: float) -> HTTPResponseRecord:
        """What a GET of the result URL gets: the response, another 303, or 404 for someone else's id."""
        record = await wait_for_finish(self.store, call_id, budget)
        if record is None or record.function != function:
            return text_response(404, f"No call {call_id!r} for this endpoint.")
        if record.status.finished:
            return finished_response(record)
        return see_other(request, call_id)


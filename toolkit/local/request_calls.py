"""A web request as a function call, as on the platform: the call graph's parent of what it spawns.

On the platform every request a web endpoint handles is an input of a function call: inside the
handler ``toolkit.current_function_call_id()`` names it, and a ``.spawn()`` made while handling it
is its child in ``FunctionCall.get_call_graph()`` (so ``get_call_graph()[0].children[0]`` is the
spawned call).  A local web worker (`toolkit.serve.web_worker`) enters `handling_request` around
each request to do the same.

Most requests spawn nothing, so a request is written to the call store only when it spawns
(`record_parent_request`, from the runner): one write then and one when the request ends, none for
the others.  The record is owned by the web worker process, so a request cut off by its death
reads as lost, like any call it owned.

``toolkit serve``'s gateway names each request's call (`CALL_ID_HEADER`), so a request it detaches
past the budget is polled under the id its handler saw.  The gateway then records that call itself;
a spawn after that links to the gateway's record, which the worker leaves for the gateway to finish.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from runtime.callstore import CallStatus, new_call_id
from runtime.serialization import serialize, serialize_error
from toolkit.context import entered_input, new_input_id
from toolkit.local.ownership import OwnedCallStore, local_call_store


@dataclass
class RequestCall:
    """The call one request is (``app`` and ``function`` name it in the store, as a spawn's record does)."""

    call_id: str
    app: str
    function: str
    store: OwnedCallStore | None = None  # set once recorded: the request spawned something
    linked: bool = False  # its record exists (this worker's, or the gateway's for a detached request)
    lock: threading.Lock = field(default_factory=threading.Lock)  # a handler may spawn from several threads


CALL_ID_HEADER = b"toolkit-call-id"  # gateway -> web worker: the call a request is (never from a client)

_current: ContextVar[RequestCall | None] = ContextVar("toolkit_request_call", default=None)


@contextmanager
def handling_request(app: str, function: str, call_id: str | None = None) -> Iterator[RequestCall]:
    """Run the body as a call of ``function`` (``call_id``, the gateway's name for it, else a new one):
    its id is ``current_function_call_id()`` there.  If the body spawned anything, the request's record
    finishes with the body (FAILED if it raised)."""
    call = RequestCall(call_id or new_call_id(), app, function)
    token = _current.set(call)
    try:
        with entered_input(call.call_id, new_input_id()):
            yield call
    except BaseException as exc:
        _finish(call, CallStatus.FAILED, serialize_error(exc))
        raise
    else:
        _finish(call, CallStatus.DONE, serialize(None))
    finally:
        _current.reset(token)


def record_parent_request(parent: str | None) -> None:
    """Before a call spawned under ``parent`` is linked to it: if ``parent`` is the request being
    handled here, give it its store record (once), so the call graph can walk up to it."""
    call = _current.get()
    if call is None or call.call_id != parent:
        return
    with call.lock:
        if call.linked:
            return
        store = local_call_store()
        try:
            store.create(call.call_id, call.app, call.function)
        except sqlite3.IntegrityError:  # the gateway detached the request first: its record, its to finish
            call.linked = True
            return
        store.mark_running(call.call_id)
        call.store, call.linked = store, True


def _finish(call: RequestCall, status: CallStatus, result: bytes) -> None:
    with call.lock:
        if call.store is not None:
            call.store.complete(call.call_id, status, result)

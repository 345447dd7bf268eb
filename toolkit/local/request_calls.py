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
past the budget is polled under the id its handler saw.  Whoever records the call first finishes it:
the gateway, when it detaches a request that had spawned nothing (a spawn after that links to the
gateway's record); the worker, when the request spawned before its response began: the gateway may
still detach it, so the worker keeps the response (`ResponseCapture`) and finishes the record with
it, as the gateway would have, for the result URL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from runtime.adapters.web_server import hop_by_hop
from runtime.callstore import CallStatus, new_call_id
from runtime.gateway.records import HTTPResponseRecord
from runtime.serialization import serialize, serialize_error
from toolkit.context import entered_input, new_input_id
from toolkit.local.ownership import OwnedCallStore, local_call_store

CAPTURE_LIMIT = 64 * 1024 * 1024  # past this a response is not kept: a detached one that large reads as failed


@dataclass
class ResponseCapture:
    """The response of a request recorded before it began, kept whole for the call's record."""

    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    size: int = 0

    def record(self) -> HTTPResponseRecord:
        """As the gateway stores a detached response: hop-by-hop headers dropped, its own length."""
        hop = hop_by_hop(self.headers)
        body = b"".join(self.body)
        kept = [(k, v) for k, v in self.headers if k.lower() not in hop and k.lower() != b"content-length"]
        return HTTPResponseRecord(self.status, [*kept, (b"content-length", str(len(body)).encode())], body)


@dataclass
class RequestCall:
    """The call one request is (``app`` and ``function`` name it in the store, as a spawn's record does)."""

    call_id: str
    app: str
    function: str
    store: OwnedCallStore | None = None  # set once recorded: the request spawned something
    linked: bool = False  # its record exists (this worker's, or the gateway's for a detached request)
    response_started: bool = False
    capture: ResponseCapture | None = None  # recorded here before the response began: the response, kept
    too_large: bool = False  # the kept response passed CAPTURE_LIMIT
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
        if call.capture is not None and call.capture.status:
            _finish(call, CallStatus.DONE, serialize(call.capture.record()))
        elif call.too_large:
            _finish(call, CallStatus.FAILED, serialize_error(ValueError(
                f"the response passed {CAPTURE_LIMIT} bytes, more than toolkit serve keeps for a result URL")))
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
        if not call.response_started:  # the gateway may yet detach it: its result URL reads this record
            call.capture = ResponseCapture()


def observe_response(call: RequestCall, message: Mapping[str, Any]) -> None:
    """An ASGI message the request's app sends: noted, and kept when the request's record needs it."""
    kind = message["type"]
    if kind == "http.response.start":
        with call.lock:
            call.response_started = True
            if call.capture is not None:
                call.capture.status = int(message["status"])
                call.capture.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
    elif kind == "http.response.body" and call.capture is not None:
        chunk = bytes(message.get("body", b""))
        call.capture.size += len(chunk)
        if call.capture.size > CAPTURE_LIMIT:
            call.capture, call.too_large = None, True
        else:
            call.capture.body.append(chunk)


def _finish(call: RequestCall, status: CallStatus, result: bytes) -> None:
    with call.lock:
        if call.store is not None:
            call.store.complete(call.call_id, status, result)

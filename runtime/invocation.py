"""The direct-invoke payloads toolkit sends to a deployed function, and the replies.

Call (``.remote()`` / ``.spawn()`` through Lambda invoke)::

    {"toolkit_event": "call", "function": "<tag>",
     "payload_b64": "<base64 of serialize((args, kwargs))>"}     # inline input, or
    {"toolkit_event": "call", "function": "<tag>", "call_id": "fc-..."}  # input in the call store

Reply to an inline call: ``{"toolkit_result": "ok", "result_b64": ...}`` or
``{"toolkit_result": "error", "error_b64": <serialize_error>, "message": ...}``.  A call
with a ``call_id`` runs through the call store (exactly once) and replies
``{"toolkit_result": "stored", "call_id": ..., "status": "done" | "failed"}``; the result
is read from the store (large results go through S3 there).

Worker task (a Step Functions state)::

    {"toolkit_event": "worker_task", "call_id": "fc-...", "function": "<tag>"}
    -> {"call_id": ..., "status": "done" | "failed"}

The input payload is ``serialize((args, kwargs))``, the same as toolkit's local workers; a
call to a method of an ``@app.cls`` class adds the class parameter values the caller bound
(``Model(size=3).predict.remote(x)``): ``serialize((args, kwargs, (("size", 3),)))``.

Size limits (`LAMBDA_SYNC_PAYLOAD_BYTES` and friends below) never bind ``.remote/.spawn/.map``:
their input and result travel through the call store, which keeps blobs over its threshold in
S3 (`runtime.callstore.claimcheck`).  Only the inline form above is bounded by Lambda's.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from runtime.callstore.base import CallStatus, is_call_id
from runtime.params import Params
from runtime.serialization import deserialize, serialize

# The AWS limits a call's bytes meet on the way (documented service quotas):
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024  # RequestResponse invoke: request and response each
LAMBDA_ASYNC_PAYLOAD_BYTES = 256 * 1024  # InvocationType=Event (AWS has raised it to 1 MB; we assume the old one)
STEP_FUNCTIONS_PAYLOAD_BYTES = 256 * 1024  # execution input and any state's output
LAMBDA_MAX_TIMEOUT_S = 900  # one invocation's limit: past it the work must run elsewhere
# base64 costs 4/3 and the JSON envelope a little: what is left of a sync response for raw bytes
MAX_INLINE_RESULT_BYTES = 4_400_000

_NO_KWARGS: Mapping[str, Any] = MappingProxyType({})

# The records below are NamedTuples: immutable like frozen dataclasses, at a fraction of their
# class-creation cost, which every Lambda cold start pays (bench/bench_runtime.py).


class InvalidInvocationError(ValueError):
    pass


class CallRequest(NamedTuple):
    function: str
    call_id: str | None
    payload: bytes | None

    @classmethod
    def parse(cls, event: dict[str, Any]) -> CallRequest:
        function, call_id, payload_b64 = event.get("function"), event.get("call_id"), event.get("payload_b64")
        if not isinstance(function, str):
            raise InvalidInvocationError('A call event needs "function": the tag of the function to run.')
        if call_id is not None and not (isinstance(call_id, str) and is_call_id(call_id)):
            raise InvalidInvocationError(f"Malformed call_id {call_id!r}: expected 'fc-' and letters/digits.")
        if call_id is None and not isinstance(payload_b64, str):
            raise InvalidInvocationError('A call event needs "payload_b64" (inline input) or "call_id" (stored input).')
        try:
            payload = base64.b64decode(payload_b64, validate=True) if isinstance(payload_b64, str) else None
        except ValueError as exc:
            raise InvalidInvocationError(f"payload_b64 is not valid base64: {exc}") from exc
        return cls(function, call_id, payload)


class WorkerTask(NamedTuple):
    call_id: str
    function: str
    attempt: int = 0  # Step Functions' retry count of the task (infra/asl.py): a retry re-claims the call

    @classmethod
    def parse(cls, event: dict[str, Any]) -> WorkerTask:
        call_id, function, attempt = event.get("call_id"), event.get("function"), event.get("attempt", 0)
        if not (isinstance(call_id, str) and is_call_id(call_id)) or not isinstance(function, str):
            raise InvalidInvocationError('A worker_task needs "call_id" ("fc-...") and "function" (a tag).')
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 0:
            raise InvalidInvocationError(f'A worker_task\'s "attempt" is a retry count (0, 1, ...), not {attempt!r}.')
        return cls(call_id, function, attempt)


def call_event(function: str, *, call_id: str | None = None, payload: bytes | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"toolkit_event": "call", "function": function}
    if call_id is not None:
        event["call_id"] = call_id
    if payload is not None:
        event["payload_b64"] = base64.b64encode(payload).decode()
    return event


class CallInput(NamedTuple):
    """One call's input: positional and keyword arguments, plus class parameters for a method."""

    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = _NO_KWARGS
    params: Params = ()

    def encode(self) -> bytes:
        # a plain function's payload stays the 2-tuple toolkit's local workers also use
        kwargs = dict(self.kwargs)
        value = (self.args, kwargs, self.params) if self.params else (self.args, kwargs)
        return serialize(value)

    @classmethod
    def decode(cls, payload: bytes | tuple[Any, ...]) -> CallInput:
        """From the serialized payload, or the tuple a call store payload deserializes to."""
        value = deserialize(payload) if isinstance(payload, (bytes, bytearray)) else payload
        if not isinstance(value, tuple) or len(value) not in (2, 3):
            raise InvalidInvocationError("A call payload must be serialize((args, kwargs[, params])).")
        params = tuple((str(k), v) for k, v in value[2]) if len(value) == 3 else ()
        return cls(tuple(value[0]), dict(value[1]), params)


def encode_args(args: tuple[Any, ...], kwargs: dict[str, Any], params: Params = ()) -> bytes:
    return CallInput(tuple(args), dict(kwargs), tuple(params)).encode()


def inline_reply(status: CallStatus, data: bytes) -> dict[str, Any]:
    if len(data) > MAX_INLINE_RESULT_BYTES:
        return error_reply(413, f"The result is {len(data):,} bytes, over the {MAX_INLINE_RESULT_BYTES:,} bytes an "
                                f"inline reply can carry (a Lambda response holds {LAMBDA_SYNC_PAYLOAD_BYTES:,} bytes, "
                                "base64-encoded). Call with a call id instead (what .remote() does): the result "
                                "then goes through the call store (TOOLKIT_CALLS_TABLE), and through S3 past its "
                                "item size (TOOLKIT_PAYLOAD_BUCKET).")
    key = "result_b64" if status is CallStatus.DONE else "error_b64"
    return {"toolkit_result": "ok" if status is CallStatus.DONE else "error", key: base64.b64encode(data).decode()}


def stored_reply(call_id: str, status: CallStatus) -> dict[str, Any]:
    return {"toolkit_result": "stored", "call_id": call_id, "status": status.value}


def error_reply(status_code: int, message: str, *, web: bool = False) -> dict[str, Any]:
    """A runtime-level refusal.  Web-shaped replies carry only the keys every front door accepts
    (REST APIs answer 502 to unknown keys); toolkit-shaped ones add what a client raises from."""
    reply: dict[str, Any] = {"statusCode": status_code, "headers": {"content-type": "text/plain; charset=utf-8"},
                             "body": message}
    if not web:
        reply.update({"toolkit_result": "rejected", "message": message})
    return reply

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

The input payload is ``serialize((args, kwargs))``, the same as toolkit's local workers.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from runtime.callstore.base import CallStatus, is_call_id
from runtime.serialization import deserialize, serialize

# Lambda's synchronous response limit is 6 MB; base64 costs 4/3 and the JSON envelope a little.
MAX_INLINE_RESULT_BYTES = 4_400_000


class InvalidInvocationError(ValueError):
    pass


@dataclass(frozen=True)
class CallRequest:
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


@dataclass(frozen=True)
class WorkerTask:
    call_id: str
    function: str

    @classmethod
    def parse(cls, event: dict[str, Any]) -> WorkerTask:
        call_id, function = event.get("call_id"), event.get("function")
        if not (isinstance(call_id, str) and is_call_id(call_id)) or not isinstance(function, str):
            raise InvalidInvocationError('A worker_task needs "call_id" ("fc-...") and "function" (a tag).')
        return cls(call_id, function)


def call_event(function: str, *, call_id: str | None = None, payload: bytes | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"toolkit_event": "call", "function": function}
    if call_id is not None:
        event["call_id"] = call_id
    if payload is not None:
        event["payload_b64"] = base64.b64encode(payload).decode()
    return event


def encode_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    return serialize((tuple(args), dict(kwargs)))


def decode_args(payload: bytes) -> tuple[tuple[Any, ...], dict[str, Any]]:
    args, kwargs = deserialize(payload)
    return tuple(args), dict(kwargs)


def inline_reply(status: CallStatus, data: bytes) -> dict[str, Any]:
    if len(data) > MAX_INLINE_RESULT_BYTES:
        return error_reply(413, f"The result is {len(data)} bytes, over the {MAX_INLINE_RESULT_BYTES} byte inline "
                                "limit of a Lambda response. Call with a call store configured "
                                "(TOOLKIT_CALLS_TABLE + TOOLKIT_PAYLOAD_BUCKET) so results go through S3.")
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

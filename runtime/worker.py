"""Run one stored call: PENDING -> RUNNING -> DONE | FAILED, whatever starts it.

Used by the Step Functions worker task on Lambda, by `ThreadCalls` locally and by
direct invocations that carry a call id.  `mark_running` is a conditional write, so a
duplicate start (an at-least-once retry, a second execution) finds the call no longer
pending and does not run user code again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from runtime import call_context
from runtime.batching import BatchSpec, Outcome
from runtime.callstore.base import CallRecord, CallStatus, CallStore
from runtime.callstore.claimcheck import ClaimCheckUnavailableError
from runtime.invocation import CallInput, InvalidInvocationError
from runtime.serialization import deserialize, serialize, serialize_error

log = logging.getLogger("toolkit.runtime")

PayloadRunner = Callable[[Any], Any]


class UnknownCallError(LookupError):
    pass


def call_function(fn: Callable[..., Any], payload: bytes | tuple[Any, ...] | CallInput) -> Any:
    """Call user code with a call's input (a plain function's: no class parameters)."""
    call = payload if isinstance(payload, CallInput) else CallInput.decode(payload)
    if call.params:
        raise InvalidInvocationError(f"{getattr(fn, '__qualname__', fn)!r} is not a class method, but the call "
                                     f"carries class parameters {dict(call.params)!r}.")
    return run_callable(fn, call.args, call.kwargs)


def run_callable(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """Call user code; coroutines run to completion, generators are drained."""
    result = fn(*args, **kwargs)
    if inspect.iscoroutine(result):
        return asyncio.run(result)
    if inspect.isgenerator(result):
        return list(result)
    return result


def run_to_result(run: PayloadRunner, payload: Any) -> tuple[CallStatus, bytes]:
    """Run and serialize: DONE with the value, or FAILED with the captured error."""
    try:
        return CallStatus.DONE, serialize(run(payload))
    except Exception as exc:  # user code failing is a result, not a runtime crash
        log.info("call failed with %s", type(exc).__name__)
        return CallStatus.FAILED, serialize_error(exc)


def execute_stored_call(store: CallStore, call_id: str, run: PayloadRunner,
                        claim: Callable[[str], bool] | None = None) -> CallStatus:
    """Claim a pending call, run it and record the outcome exactly once; returns the final status.
    ``claim``: how to claim it, when not ``store.mark_running`` (a Step Functions retry's re-claim)."""
    if not (claim or store.mark_running)(call_id):
        record = store.get(call_id)
        if record is None:
            raise UnknownCallError(f"No call {call_id!r} in the call store.")
        log.info("call %s is already %s; not running it again", call_id, record.status.value)
        return record.status
    payload = store.get_payload(call_id)
    with call_context.entered(call_id):  # toolkit.current_function_call_id() inside the function
        status, result = run_to_result(run, deserialize(payload) if payload is not None else None)
    try:
        store.complete(call_id, status, result)
    except ClaimCheckUnavailableError as exc:  # too large to keep without a bucket: the caller learns why
        status = CallStatus.FAILED
        store.complete(call_id, status, serialize_error(exc))
    return status



class BatchStore(Protocol):
    """What a batch needs beyond `CallStore`: the DynamoDB store's pending index and batch claims."""

    def mark_running(self, call_id: str, batched_by: str | None = None) -> bool: ...
    def pending_calls(self, app: str, function: str, limit: int) -> list[str]: ...
    def batched_by(self, call_id: str) -> str | None: ...
    def reclaim_batch(self, leader: str) -> list[str]: ...
    def take_back(self, call_id: str, attempt: int = 0) -> bool: ...
    def get(self, call_id: str) -> CallRecord | None: ...
    def get_payload(self, call_id: str) -> bytes | None: ...
    def complete(self, call_id: str, status: CallStatus, result: bytes) -> bool: ...


BatchRunner = Callable[[list[Any]], "list[Outcome]"]  # decoded payloads -> one outcome each
POLL_S = 0.05


def execute_stored_batch(store: BatchStore, call_id: str, app: str, function: str, spec: BatchSpec,
                         run: BatchRunner, same_batch: Callable[[Any, Any], bool],
                         claim: Callable[[str], bool] | None = None) -> CallStatus:
    """``@toolkit.batched`` on AWS: claim ``call_id``, then other pending calls of ``function`` (those
    ``same_batch`` with it: a method's calls need the same parameters) until ``spec.max_batch_size``
    or ``spec.wait_ms`` after the claim; run them as one batch and record each call's own outcome.
    Each claim is the conditional PENDING -> RUNNING write, so no call runs in two batches.
    ``claim``: how to claim ``call_id`` itself, when not ``store.mark_running`` (a retry's re-claim); a
    retry also takes back the unfinished calls of the batch the try before it claimed (``reclaim_batch``)."""
    if not (claim or store.mark_running)(call_id):
        return _already_claimed(store, call_id)
    first = _payload(store, call_id)
    batch = [(call_id, first)]
    if claim is not None:  # a Step Functions retry: the calls the try before it took into its batch are its own
        batch += [(member, _payload(store, member)) for member in store.reclaim_batch(call_id)]
    until = time.monotonic() + spec.wait_ms / 1000
    while len(batch) < spec.max_batch_size:
        for other in store.pending_calls(app, function, spec.max_batch_size - len(batch)):
            payload = _payload(store, other)
            if other != call_id and same_batch(first, payload) and store.mark_running(other, batched_by=call_id):
                batch.append((other, payload))
        left = until - time.monotonic()
        if left <= 0 or len(batch) >= spec.max_batch_size:
            break
        time.sleep(min(POLL_S, left))
    log.info("call %s runs in a batch of %d", call_id, len(batch))
    with call_context.entered(call_id):  # as locally: the batch runs under its first input's call
        outcomes = _outcomes(run, [payload for _, payload in batch])
    # its own call last: a finished leader then means its whole batch is recorded, unless its worker ended
    # first (the members' own workers take those back: DynamoDBCallStore.take_back)
    recorded = list(zip(batch, outcomes, strict=True))
    for (member, _), (ok, value) in recorded[1:] + recorded[:1]:
        _record(store, member, CallStatus.DONE if ok else CallStatus.FAILED, value, ok)
    record = store.get(call_id)
    return record.status if record is not None else CallStatus.FAILED


def _payload(store: BatchStore, call_id: str) -> Any:
    payload = store.get_payload(call_id)
    return deserialize(payload) if payload is not None else None


def _outcomes(run: BatchRunner, payloads: list[Any]) -> list[Outcome]:
    try:
        return run(payloads)
    except Exception as exc:  # decoding or binding failed for the whole batch: each call learns why
        return [(False, exc)] * len(payloads)


def _record(store: BatchStore, call_id: str, status: CallStatus, value: Any, ok: bool) -> None:
    try:
        store.complete(call_id, status, serialize(value) if ok else serialize_error(value))
    except ClaimCheckUnavailableError as exc:
        store.complete(call_id, CallStatus.FAILED, serialize_error(exc))


def _already_claimed(store: BatchStore, call_id: str) -> CallStatus:
    record = store.get(call_id)
    if record is None:
        raise UnknownCallError(f"No call {call_id!r} in the call store.")
    return record.status


LEADER_POLLS = 5  # a waiting call's own record is read every poll, its batch's leader every this many


def await_batch(store: BatchStore, call_id: str, timeout_s: float) -> CallStatus:
    """The status of a call another worker claimed into its batch, once finished (or at ``timeout_s``):
    its own worker waits rather than declaring it abandoned.  The wait also ends, the call unfinished,
    once the batch's leader has finished without it (its worker ended: the caller may take it back with
    ``store.take_back``).  Unbatched: the status as it is."""
    record = store.get(call_id)
    leader = None if record is None or record.status.finished else store.batched_by(call_id)
    if record is None or leader is None:
        return record.status if record is not None else CallStatus.FAILED
    deadline, polls = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline:
        time.sleep(POLL_S * 4)
        record, polls = store.get(call_id), polls + 1
        if record is not None and record.status.finished:
            return record.status
        if polls % LEADER_POLLS == 0 and _ended(store, leader):
            record = store.get(call_id)  # the leader records its batch before itself: read the call once more
            break
    return record.status if record is not None else CallStatus.FAILED


def _ended(store: BatchStore, call_id: str) -> bool:
    record = store.get(call_id)
    return record is None or record.status.finished

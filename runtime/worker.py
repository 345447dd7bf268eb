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
from collections.abc import Callable, Mapping
from typing import Any

from runtime import call_context
from runtime.callstore.base import CallStatus, CallStore
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


def execute_stored_call(store: CallStore, call_id: str, run: PayloadRunner) -> CallStatus:
    """Claim a pending call, run it and record the outcome exactly once; returns the final status."""
    if not store.mark_running(call_id):
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


"""`FunctionCall`: a handle on a spawned call, pollable from any process by its id."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from toolkit.aio import Aio
from toolkit.exception import InvalidError, NotFoundError

if TYPE_CHECKING:
    from toolkit.local.ownership import OwnedCallStore

_POLL_START, _POLL_MAX = 0.002, 0.1


class FunctionCall:
    """What ``fn.spawn(...)`` returns.  ``get()`` waits; ``get(timeout=0)`` polls once."""

    gather: ClassVar[Aio[list[Any]]]  # ``FunctionCall.gather(*calls)`` and ``.gather.aio``, set below the class
    object_id: str  # the call's id ("fc-..."), for FunctionCall.from_id in any process
    get: Aio[Any]  # ``call.get(timeout=None)`` and ``call.get.aio``, bound per instance

    def __init__(self, call_id: str) -> None:
        self.object_id = call_id
        self.get = Aio(self._get)  # also ``await call.get.aio(timeout=...)``

    def __repr__(self) -> str:
        return f"FunctionCall({self.object_id!r})"

    @staticmethod
    def from_id(call_id: str) -> FunctionCall:
        from runtime.callstore.base import is_call_id

        if not isinstance(call_id, str) or not is_call_id(call_id):
            raise InvalidError(f"{call_id!r} is not a call id; ids look like 'fc-0123abcd...' (from fn.spawn()).")
        return FunctionCall(call_id)

    def _get(self, timeout: float | None = None) -> Any:
        """The call's result.  Raises the built-in ``TimeoutError`` if it is not finished in time."""
        if timeout is not None and timeout < 0:
            raise InvalidError(f"get(timeout={timeout!r}) must be >= 0 seconds, or None to wait.")
        from toolkit.runner import deployed_runner

        cloud = deployed_runner()
        if cloud is not None:  # inside a deployed function: the call lives in the app's DynamoDB table
            return cloud.get(self.object_id, timeout)
        from toolkit.local.results import unwrap
        from toolkit.local.runner import local_runner

        runner = local_runner()
        slot = runner.local_slot(self.object_id)
        if slot is not None:  # spawned by this process: wait on it directly
            try:
                return unwrap(*slot.wait(timeout))
            except TimeoutError:
                raise TimeoutError(f"{self.object_id} is still running after {timeout} s") from None
        return self._poll(runner.store, timeout)

    def _poll(self, store: OwnedCallStore, timeout: float | None) -> Any:
        from runtime.callstore import CallStatus
        from toolkit.local.results import unwrap

        deadline = None if timeout is None else time.monotonic() + timeout
        delay = _POLL_START
        while True:
            record = store.get(self.object_id)  # a call whose owner died reads FAILED with CallLostError
            if record is None:
                raise NotFoundError(f"No call {self.object_id!r} in the local call store ({store.path}).")
            if record.status.finished:
                assert record.result is not None  # complete() and mark_lost() always write one
                return unwrap(record.status is CallStatus.DONE, record.result)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{self.object_id} is still {record.status.value}")
            remaining = None if deadline is None else deadline - time.monotonic()
            time.sleep(delay if remaining is None else max(0.0, min(delay, remaining)))
            delay = min(delay * 2, _POLL_MAX)


def _gather(*calls: FunctionCall) -> list[Any]:
    """Wait for every call; their results in argument order, or the first failure (in that order) raised.

    The other calls keep running after a failure, as spawned calls do when their caller stops waiting.
    """
    for call in calls:
        if not isinstance(call, FunctionCall):
            raise InvalidError(f"FunctionCall.gather() takes FunctionCall objects (from fn.spawn()), got {call!r}.")
    return [call.get() for call in calls]


FunctionCall.gather = Aio(_gather)

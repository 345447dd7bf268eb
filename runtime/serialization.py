"""How inputs, results and errors cross process boundaries (local workers, Lambda, Step Functions).

cloudpickle, because user code defined in a script's ``__main__`` (classes, lambdas)
must reach a worker that imported the script under another module name.  It is imported on
the first `serialize`: a web endpoint's cold start never needs it (plain ``pickle`` reads).

Front door (``runtime.FRONT_DOORS``): the SDK imports the wire format of inputs, results and errors
(`serialize`, `deserialize`, `RemoteError`) the local workers use too; `__all__` is what it offers.
"""

from __future__ import annotations

import pickle
import traceback
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RemoteError",
    "WorkerFailedError",
    "capture_error",
    "deserialize",
    "serialize",
    "serialize_error",
    "worker_failure",
]


def serialize(value: Any) -> bytes:
    import cloudpickle

    data: bytes = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return data


def deserialize(data: bytes) -> Any:
    return pickle.loads(data)


@dataclass
class RemoteError:
    """An exception raised by user code, with the traceback text from where it ran."""

    exception: BaseException | None  # None when the exception itself could not be pickled
    type_name: str
    message: str
    traceback: str


def capture_error(exc: BaseException) -> RemoteError:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        pickle.loads(serialize(exc))
        carried: BaseException | None = exc
    except Exception:
        carried = None
    return RemoteError(carried, f"{type(exc).__module__}.{type(exc).__qualname__}", str(exc), tb)


def serialize_error(exc: BaseException) -> bytes:
    err = capture_error(exc)
    if err.exception is not None:
        err.exception.__traceback__ = None
    return serialize(err)


class WorkerFailedError(RuntimeError):
    """The worker stopped without recording a result (killed by its timeout, crashed, failed to
    start), as Step Functions reported it.  ``error`` is the Step Functions error name
    (``States.Timeout``, ``States.TaskFailed``, ``Lambda.ResourceNotFoundException``...)."""

    def __init__(self, error: str, cause: str = "", call_id: str = "") -> None:
        super().__init__(error, cause, call_id)  # all three in args: pickling rebuilds from them
        self.error, self.cause, self.call_id = error, cause, call_id

    def __str__(self) -> str:
        call = f"Call {self.call_id}" if self.call_id else "The call"
        detail = f": {self.cause}" if self.cause else ""
        return f"{call} failed: its worker stopped without a result, Step Functions error {self.error}{detail}"


def worker_failure(error: str, cause: str, call_id: str = "") -> RemoteError:
    """The `RemoteError` a FAILED record carries when Step Functions, not the worker, failed the call."""
    exc = WorkerFailedError(error, cause, call_id)
    return RemoteError(exc, error, str(exc), f"(no Python traceback: the worker stopped with {error})\n")

"""Calls in the local call store as the dashboard shows them: a table row, and a call's detail.

Arguments and results are cloudpickles made by the app's workers.  The serve never imports the
app, so they are read with an unpickler that builds only plain data (numbers, strings, bytes,
lists, dicts, sets, tuples) and toolkit's error record; anything else shows as ``<module.Name>``.
Nothing of the app's code runs in the serve to show them.
"""

from __future__ import annotations

import io
import pickle
import reprlib
from typing import Any

from runtime.callstore.base import CallRecord, CallStatus

__all__ = ["call_detail", "call_row", "summarize"]

_PLAIN = {("builtins", name) for name in ("list", "dict", "set", "frozenset", "tuple", "bytearray", "complex",
                                          "slice", "range", "bytes", "str", "int", "float", "bool")}
_ERROR_RECORD = ("runtime.serialization", "RemoteError")
_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxlevel = 200, 200, 20, 20, 4


class Opaque:
    """Stands for an object of a class the serve will not import."""

    name = "object"

    def __new__(cls, *args: Any, **kwargs: Any) -> Opaque:
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<{self.name}>"


class ErrorRecord(Opaque):
    """`runtime.serialization.RemoteError`, field by field (its exception may be the app's class)."""

    name = "runtime.serialization.RemoteError"


class PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _PLAIN:
            return super().find_class(module, name)
        if (module, name) == _ERROR_RECORD:
            return ErrorRecord
        return type(name, (Opaque,), {"name": f"{module}.{name}"})


def _load(data: bytes) -> Any:
    return PlainUnpickler(io.BytesIO(data)).load()


def summarize(data: bytes | None) -> str:
    """A short, safe rendering of a pickle: plain data shown, other objects named."""
    if data is None:
        return ""
    try:
        return _SHORT.repr(_load(data))
    except Exception as exc:  # noqa: BLE001 - a pickle this reader cannot follow: say so, show its size
        return f"<{len(data):,} bytes: {type(exc).__name__}>"


def _arguments(payload: bytes | None) -> str:
    """``(args, kwargs)`` as a call would be written: ``3, name='x'``."""
    if payload is None:
        return ""
    try:
        args, kwargs = _load(payload)
        parts = [_SHORT.repr(a) for a in args] + [f"{k}={_SHORT.repr(v)}" for k, v in dict(kwargs).items()]
        return ", ".join(parts)
    except Exception:  # noqa: BLE001 - not an (args, kwargs) pair this reader can follow
        return summarize(payload)


def call_row(record: CallRecord) -> dict[str, Any]:
    finished = record.status in (CallStatus.DONE, CallStatus.FAILED)
    return {"call_id": record.call_id, "function": record.function, "status": record.status.value,
            "started": record.created_at,
            "duration_ms": round((record.updated_at - record.created_at) * 1000) if finished else None,
            "caller": record.owner or ""}


def call_detail(record: CallRecord, payload: bytes | None) -> dict[str, Any]:
    """The row, the arguments' summary, and the result's summary or the error with its traceback."""
    detail = {**call_row(record), "arguments": _arguments(payload), "result": None, "error": None}
    if record.result is None:
        return detail
    if record.status is CallStatus.FAILED:
        try:
            error = _load(record.result)
            state = getattr(error, "state", None) or {}
            detail["error"] = {"type": state.get("type_name", ""), "message": state.get("message", ""),
                               "traceback": state.get("traceback", "")}
        except Exception:  # noqa: BLE001
            detail["error"] = {"type": "", "message": summarize(record.result), "traceback": ""}
    else:
        detail["result"] = summarize(record.result)
    return detail

"""The call-store interface shared by the local (SQLite) and AWS (DynamoDB) stores.

Front door (``runtime.FRONT_DOORS``): the SDK imports the `CallStore` protocol and `CallRecord`
local calls are kept in; `__all__` is what it offers.
"""

from __future__ import annotations

import enum
import secrets
from typing import NamedTuple, Protocol

__all__ = ["CALL_ID_PREFIX", "CallRecord", "CallStatus", "CallStore", "is_call_id", "new_call_id"]

CALL_ID_PREFIX = "fc-"


def new_call_id() -> str:
    """A fresh call id: ``fc-`` followed by 26 url-safe characters (about 130 bits)."""
    return CALL_ID_PREFIX + secrets.token_hex(13)


def is_call_id(value: str) -> bool:
    return value.startswith(CALL_ID_PREFIX) and len(value) > len(CALL_ID_PREFIX) and value[3:].isalnum()


class CallStatus(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (CallStatus.DONE, CallStatus.FAILED)


class CallRecord(NamedTuple):  # immutable; a NamedTuple is cheaper than a dataclass to define at cold start
    call_id: str
    app: str
    function: str
    status: CallStatus
    created_at: float
    updated_at: float
    # Who must finish the call.  ``local:<host>:<pid>:<start time>`` for a local process (a reader
    # that finds it dead settles the call as lost: `toolkit.local.ownership`); None: no one to judge.
    owner: str | None = None
    result: bytes | None = None  # a serialized value (DONE) or serialized error (FAILED)


class CallStore(Protocol):
    """Where call state lives.  Every method is safe to call from several processes."""

    def create(
        self, call_id: str, app: str, function: str, payload: bytes | None = None, owner: str | None = None
    ) -> CallRecord:
        """Record a new PENDING call with its serialized input."""
        ...

    def mark_running(self, call_id: str) -> bool:
        """PENDING -> RUNNING.  False when the call is not pending (already running or finished)."""
        ...

    def complete(self, call_id: str, status: CallStatus, result: bytes) -> bool:
        """Finish a call with DONE or FAILED.  Exactly once: False if it had already finished."""
        ...

    def get(self, call_id: str) -> CallRecord | None:
        """The call's current record, or None for an unknown id."""
        ...

    def get_payload(self, call_id: str) -> bytes | None:
        """The serialized input recorded by `create`."""
        ...

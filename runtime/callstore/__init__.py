"""Call state: one interface (`CallStore`), one implementation per place calls run.

* `SQLiteCallStore` -- the embedded default used by local calls and `toolkit serve`.
* A DynamoDB implementation (with S3 claim-checks) is used on AWS.

A call moves PENDING -> RUNNING -> DONE | FAILED.  Completion is a conditional write:
the first writer wins and every later `complete()` returns False, so a result is
recorded exactly once even when a retry and a slow original both finish.  A call whose
owner died is settled FAILED ("lost") by the same conditional write
(`SQLiteCallStore.mark_lost`), so a result and a lost verdict have one winner.

Front door (``runtime.FRONT_DOORS``): the SDK imports `CallStatus` and `new_call_id`; `__all__` is
what it offers.
"""

from typing import TYPE_CHECKING, Any

from runtime.callstore.base import CallRecord, CallStatus, CallStore, new_call_id

if TYPE_CHECKING:
    from runtime.callstore.sqlite import SQLiteCallStore


def __getattr__(name: str) -> Any:
    # sqlite3 only where calls are local: a Lambda cold start does not pay for it
    if name == "SQLiteCallStore":
        from runtime.callstore.sqlite import SQLiteCallStore

        return SQLiteCallStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CallRecord", "CallStatus", "CallStore", "SQLiteCallStore", "new_call_id"]

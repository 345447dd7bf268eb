"""Call state: one interface (`CallStore`), one implementation per place calls run.

* `SQLiteCallStore` -- the embedded default used by local calls and `toolkit serve`.
* A DynamoDB implementation (with S3 claim-checks) is used on AWS.

A call moves PENDING -> RUNNING -> DONE | FAILED.  Completion is a conditional write:
the first writer wins and every later `complete()` returns False, so a result is
recorded exactly once even when a retry and a slow original both finish.
"""

from runtime.callstore.base import CallRecord, CallStatus, CallStore, new_call_id
from runtime.callstore.sqlite import SQLiteCallStore

__all__ = ["CallRecord", "CallStatus", "CallStore", "SQLiteCallStore", "new_call_id"]

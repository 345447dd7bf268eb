"""Call ownership: which local process must finish a call, and what a reader does when it is gone.

A call in the local store (a spawn, or a web request that outlived its budget in ``toolkit
serve``) is finished by the process that created it: its workers answer only to it.  So each
call records that process as its *owner* (host, pid and start time, so a reused pid is not
mistaken for it).  If the owner dies (kill -9, a crash), nothing will ever write the call's
result.  A reader that finds an unfinished call with a dead owner settles it: it writes the
call FAILED with a `CallLostError`, with the same conditional write a result uses, so exactly
one of "result" and "lost" is ever recorded.  The dead owner's workers stop on their own
(`toolkit.local.worker`, `toolkit.serve.web_worker`): a retry after "lost" never runs beside them.

`OwnedCallStore` is the local store as one process uses it: calls it creates are owned by that
process, and every read settles a lost call before it returns it.
"""

from __future__ import annotations

import functools
import os
import socket

from runtime.callstore.base import CallRecord, CallStatus
from runtime.callstore.sqlite import SQLiteCallStore
from runtime.serialization import serialize_error
from toolkit import config
from toolkit.exception import CallLostError
from toolkit.processes import process_start, stat_fields

OWNER_PREFIX = "local"


def owner_token(pid: int | None = None) -> str:
    """This process (or ``pid``) as a call owner: ``local:<host>:<pid>:<start time>``."""
    pid = os.getpid() if pid is None else pid
    return f"{OWNER_PREFIX}:{socket.gethostname()}:{pid}:{process_start(pid) or '?'}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process that owns a call still runs (same host, pid and start time).

    Owners this machine cannot judge (none recorded, another host, another kind) count as alive.
    """
    if not owner or not owner.startswith(OWNER_PREFIX + ":"):
        return True
    _, host, pid_text, started = owner.split(":", 3)
    if host != socket.gethostname():
        return True
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    fields = stat_fields(pid)  # read once: the state and the start time
    if fields is not None and fields[0] == b"Z":  # exited, not yet reaped by its parent
        return False
    return (process_start(pid, fields) or "?") == started


def lost_error(record: CallRecord) -> CallLostError:
    """The error a lost call finishes with: names the call, its function and its dead owner."""
    pid = record.owner.split(":")[2] if record.owner else "?"
    return CallLostError(
        f"{record.call_id} ({record.function}) was lost: the process that owned it (pid {pid}) exited before "
        "it finished, so it will not finish. Spawn it again (for a web request, send the request again)."
    )


class OwnedCallStore:
    """A `SQLiteCallStore` that records this process as the owner of what it creates and
    settles calls whose owner died as lost when it reads them (a `CallStore`)."""

    def __init__(self, store: SQLiteCallStore) -> None:
        self.store = store

    @property
    def path(self) -> os.PathLike[str]:
        return self.store.path

    def create(self, call_id: str, app: str, function: str, payload: bytes | None = None,
               owner: str | None = None) -> CallRecord:
        return self.store.create(call_id, app, function, payload, owner or owner_token())

    def mark_running(self, call_id: str) -> bool:
        return self.store.mark_running(call_id)

    def complete(self, call_id: str, status: CallStatus, result: bytes) -> bool:
        return self.store.complete(call_id, status, result)

    def get_payload(self, call_id: str) -> bytes | None:
        return self.store.get_payload(call_id)

    def recent(self, app: str, limit: int = 50) -> list[CallRecord]:
        return self.store.recent(app, limit)

    def get(self, call_id: str) -> CallRecord | None:
        """The call's record; an unfinished one whose owner died comes back FAILED with `CallLostError`."""
        record = self.store.get(call_id)
        if record is None or record.status.finished or owner_alive(record.owner):
            return record
        assert record.owner is not None  # owner_alive() is True for calls without one
        self.store.mark_lost(call_id, record.owner, serialize_error(lost_error(record)))
        return self.store.get(call_id)  # whichever write won: the lost verdict, or a result just before it


def local_call_store() -> OwnedCallStore:
    """The machine's call store (under ``TOOLKIT_HOME``), owned by this process."""
    return OwnedCallStore(SQLiteCallStore(config.calls_db_path()))


def owns_unfinished_calls(pid: int) -> bool:
    """Whether process ``pid`` owns calls that have not finished (stopping it would lose them)."""
    return _machine_store().unfinished_count(owner_token(pid)) > 0


@functools.cache
def _machine_store() -> SQLiteCallStore:
    return SQLiteCallStore(config.calls_db_path())

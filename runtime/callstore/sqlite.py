"""The embedded call store: one SQLite file shared by every local process.

WAL mode lets a poller in another process read while a worker writes; each
connection is per-thread because sqlite3 connections must not cross threads.

Front door (``runtime.FRONT_DOORS``): the SDK imports `SQLiteCallStore`, the store of local calls
and ``toolkit serve``; `__all__` is what it offers.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from runtime.callstore.base import CallRecord, CallStatus

__all__ = ["SQLiteCallStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id    TEXT PRIMARY KEY,
    app        TEXT NOT NULL,
    function   TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    owner      TEXT,
    payload    BLOB,
    result     BLOB
)
"""
# What `unfinished_count` reads: only unfinished calls are indexed, so the index stays small.
_UNFINISHED = "status IN ('pending', 'running')"
_OWNER_INDEX = f"CREATE INDEX IF NOT EXISTS calls_unfinished_by_owner ON calls (owner) WHERE {_UNFINISHED}"
_COLUMNS = "call_id, app, function, status, created_at, updated_at, owner, result"


class SQLiteCallStore:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute(_SCHEMA)
            conn.execute(_OWNER_INDEX)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across process crashes in WAL mode; only an OS crash can lose the tail.
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def create(
        self, call_id: str, app: str, function: str, payload: bytes | None = None, owner: str | None = None
    ) -> CallRecord:
        now = time.time()
        self._connect().execute(
            "INSERT INTO calls (call_id, app, function, status, created_at, updated_at, owner, payload)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (call_id, app, function, CallStatus.PENDING.value, now, now, owner, payload),
        )
        return CallRecord(call_id, app, function, CallStatus.PENDING, now, now, owner)

    def mark_running(self, call_id: str) -> bool:
        cur = self._connect().execute(
            "UPDATE calls SET status = ?, updated_at = ? WHERE call_id = ? AND status = ?",
            (CallStatus.RUNNING.value, time.time(), call_id, CallStatus.PENDING.value),
        )
        return cur.rowcount == 1

    def complete(self, call_id: str, status: CallStatus, result: bytes) -> bool:
        if not status.finished:
            raise ValueError(f"complete() needs DONE or FAILED, not {status.value!r}")
        cur = self._connect().execute(
            "UPDATE calls SET status = ?, result = ?, updated_at = ? WHERE call_id = ? AND status IN (?, ?)",
            (status.value, result, time.time(), call_id, CallStatus.PENDING.value, CallStatus.RUNNING.value),
        )
        return cur.rowcount == 1

    def mark_lost(self, call_id: str, owner: str, error: bytes) -> bool:
        """Fail an unfinished call whose ``owner`` is gone, with ``error`` (a serialized error) as its result.

        The same conditional write as `complete`: whichever of a result and a lost verdict is
        written first wins, the other changes nothing, so a caller told "lost" never later sees
        a result (and one that got a result is never told it was lost).  ``owner`` must still
        match, so a verdict about one owner never lands on a record another owner holds.
        """
        cur = self._connect().execute(
            "UPDATE calls SET status = ?, result = ?, updated_at = ?"
            " WHERE call_id = ? AND owner = ? AND status IN (?, ?)",
            (CallStatus.FAILED.value, error, time.time(), call_id, owner,
             CallStatus.PENDING.value, CallStatus.RUNNING.value),
        )
        return cur.rowcount == 1

    def unfinished_count(self, owner: str) -> int:
        """How many calls ``owner`` has yet to finish (pending or running)."""
        row = self._connect().execute(f"SELECT COUNT(*) FROM calls WHERE owner = ? AND {_UNFINISHED}", (owner,)).fetchone()
        return int(row[0])

    def get(self, call_id: str) -> CallRecord | None:
        row = self._connect().execute(f"SELECT {_COLUMNS} FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        if row is None:
            return None
        return CallRecord(row[0], row[1], row[2], CallStatus(row[3]), row[4], row[5], row[6], row[7])

    def recent(self, app: str, limit: int = 50) -> list[CallRecord]:
        """``app``'s latest calls, newest first, without their results (`toolkit serve`'s dashboard)."""
        rows = self._connect().execute(
            "SELECT call_id, app, function, status, created_at, updated_at, owner FROM calls WHERE app = ? "
            "ORDER BY created_at DESC LIMIT ?", (app, limit)).fetchall()
        return [CallRecord(r[0], r[1], r[2], CallStatus(r[3]), r[4], r[5], r[6]) for r in rows]

    def get_payload(self, call_id: str) -> bytes | None:
        row = self._connect().execute("SELECT payload FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        return None if row is None else row[0]

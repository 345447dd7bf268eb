"""What the call store does not say about a call: which call spawned it, how many inputs it has,
and whether another process asked to cancel it.

The store (`runtime.callstore`) keeps one record per input that can be waited on.  A ``.spawn()``
is one such record, under the call's own id.  An ``experimental_spawn_map`` is one call with many
inputs: each input gets a record of its own (``<call id>i<index>``, see `input_record_id`) and the
call itself a *link* row here saying how many there are.  A call spawned from inside another call
(in a worker, where ``toolkit.current_function_call_id()`` names the running call) gets a link
row naming that parent, so ``FunctionCall.get_call_graph()`` can walk from a call to what it spawned.

A top-level ``.spawn()`` writes no row: "no row" reads as one input and no parent, which keeps
the common spawn at one store write.  The rows live in their own table of the same SQLite file
as the store, so every local process sees them.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from pathlib import Path
from typing import NamedTuple

from toolkit import config

_SCHEMA = """
CREATE TABLE IF NOT EXISTS call_links (
    call_id  TEXT PRIMARY KEY,
    parent   TEXT,
    inputs   INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    app      TEXT NOT NULL,
    function TEXT NOT NULL
)
"""
_PARENT_INDEX = "CREATE INDEX IF NOT EXISTS call_links_by_parent ON call_links (parent)"
# FunctionCall.cancel() from a process that does not own the call: the owner takes the request
# (`toolkit.local.runner`, once a second while it has spawned calls running).
_CANCELS = "CREATE TABLE IF NOT EXISTS call_cancels (call_id TEXT PRIMARY KEY, terminate INTEGER NOT NULL)"
SPAWN, MAP = "spawn", "map"


class CallLink(NamedTuple):
    call_id: str
    parent: str | None
    inputs: int
    kind: str  # SPAWN: its one input is the record under call_id; MAP: records <call_id>i<k>
    app: str
    function: str


def input_record_id(call_id: str, index: int) -> str:
    """The store record of input ``index`` of a multi-input call (alphanumeric, so still a call id)."""
    return f"{call_id}i{index}"


def record_ids(call_id: str, link: CallLink | None) -> list[str]:
    """The store records of a call's inputs, in input order."""
    if link is None or link.kind == SPAWN:
        return [call_id]
    return [input_record_id(call_id, k) for k in range(link.inputs)]


class CallLinks:
    """The link table, shared by every process on the machine (a connection per thread)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        conn = self._connect()
        conn.execute(_SCHEMA)
        conn.execute(_PARENT_INDEX)
        conn.execute(_CANCELS)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def record(self, link: CallLink) -> None:
        self._connect().execute("INSERT OR REPLACE INTO call_links VALUES (?, ?, ?, ?, ?, ?)", tuple(link))

    def get(self, call_id: str) -> CallLink | None:
        row = self._connect().execute("SELECT * FROM call_links WHERE call_id = ?", (call_id,)).fetchone()
        return None if row is None else CallLink(*row)

    def request_cancel(self, call_id: str, terminate: bool) -> None:
        self._connect().execute("INSERT OR REPLACE INTO call_cancels VALUES (?, ?)", (call_id, int(terminate)))

    def take_cancel_requests(self, owned: set[str]) -> list[tuple[str, bool]]:
        """The requests for calls in ``owned`` (this process's), removed as they are taken.  The table
        holds only requests not yet taken, so reading all of it stays cheap."""
        conn = self._connect()
        taken = [(call_id, bool(terminate)) for call_id, terminate
                 in conn.execute("SELECT call_id, terminate FROM call_cancels").fetchall() if call_id in owned]
        for call_id, _terminate in taken:
            conn.execute("DELETE FROM call_cancels WHERE call_id = ?", (call_id,))
        return taken

    def children(self, call_id: str) -> list[CallLink]:
        rows = self._connect().execute("SELECT * FROM call_links WHERE parent = ? ORDER BY rowid", (call_id,))
        return [CallLink(*row) for row in rows.fetchall()]


@functools.cache
def _links_at(path: str) -> CallLinks:
    return CallLinks(path)


def call_links() -> CallLinks:
    """The machine's link table, next to its call store (under ``TOOLKIT_HOME``)."""
    return _links_at(str(config.calls_db_path()))

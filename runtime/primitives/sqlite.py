"""The embedded state store: Dicts and Queues in one SQLite file under ``TOOLKIT_HOME``.

Like the call store (`runtime.callstore.sqlite`): WAL mode so readers never wait for a writer,
one connection per thread and process.  A queue item is a row with an autoincrement id, so FIFO
order per partition is id order and a take is one ``DELETE ... RETURNING`` -- atomic, so each
item goes to exactly one consumer.  Blocking readers wait on a FIFO per partition (`wakeup`).

Ephemeral objects record their owner (host and pid); listing removes those whose owner died
without cleaning up.

A handle's ``generation`` is the object's ``created_at``.  Each operation checks it in the same
statement (or transaction) as its work, so a delete from another process comes either before
it -- the operation then raises `ObjectGoneError` and does nothing -- or after it.

Front door (``runtime.FRONT_DOORS``): the SDK imports `SQLiteStateStore`, where local Dicts and
Queues live; `__all__` is what it offers.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from runtime.primitives.base import (
    MAX_PARTITION_ITEMS,
    Kind,
    ObjectGoneError,
    ObjectInfo,
    QueueFullError,
    QueueGoneError,
    Waiter,
)
from runtime.primitives.wakeup import FifoWaiter, fifo_path, notify

__all__ = ["SQLiteStateStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, name TEXT NOT NULL, created_at REAL NOT NULL, ephemeral INTEGER NOT NULL,
    owner TEXT, PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS dict_items (
    name TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (name, key)
);
CREATE TABLE IF NOT EXISTS queue_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, partition TEXT NOT NULL,
    value BLOB NOT NULL, expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_order ON queue_items (name, partition, id);
"""
_LIVE = "name = ? AND partition = ? AND expires_at > ?"
# a put's checks: the Queue's generation, the partition's live items, when its oldest item expires
_PUT_CHECKS = f"""SELECT (SELECT created_at FROM objects WHERE kind = 'queue' AND name = ?),
    (SELECT COUNT(*) FROM queue_items WHERE {_LIVE}),
    (SELECT expires_at FROM queue_items WHERE name = ? AND partition = ? ORDER BY id LIMIT 1)"""
_SAME = "EXISTS (SELECT 1 FROM objects WHERE kind = ? AND name = ? AND created_at = ?)"  # same generation


class SQLiteStateStore:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.wakeups = self.path.parent / "wakeups"
        self._fifos: dict[tuple[str, str], Path] = {}
        self._local = threading.local()
        self._connect().executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    # -- named objects ---------------------------------------------------------------------

    def create(self, kind: Kind, name: str, *, ephemeral: bool = False) -> bool:
        owner = f"{socket.gethostname()}:{os.getpid()}" if ephemeral else None
        cur = self._connect().execute(
            "INSERT OR IGNORE INTO objects (kind, name, created_at, ephemeral, owner) VALUES (?, ?, ?, ?, ?)",
            (kind.value, name, time.time(), int(ephemeral), owner))
        return cur.rowcount == 1

    def exists(self, kind: Kind, name: str) -> bool:
        return self.generation(kind, name) is not None

    def generation(self, kind: Kind, name: str) -> float | None:
        row = self._connect().execute("SELECT created_at FROM objects WHERE kind = ? AND name = ?",
                                      (kind.value, name)).fetchone()
        return None if row is None else float(row[0])

    @staticmethod
    def _guard(kind: Kind, name: str, generation: float | None) -> tuple[str, tuple[object, ...]]:
        """A WHERE clause (and its parameters) true only while the object has ``generation``."""
        return ("", ()) if generation is None else (f" AND {_SAME}", (kind.value, name, generation))

    def _check(self, kind: Kind, name: str, generation: float | None) -> None:
        """`ObjectGoneError` unless the object still has ``generation`` (no check for None)."""
        if generation is not None and self.generation(kind, name) != generation:
            raise ObjectGoneError(kind, name)

    def delete(self, kind: Kind, name: str) -> bool:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute("DELETE FROM objects WHERE kind = ? AND name = ?", (kind.value, name))
            table = "dict_items" if kind is Kind.DICT else "queue_items"
            conn.execute(f"DELETE FROM {table} WHERE name = ?", (name,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return cur.rowcount == 1

    def list_objects(self, kind: Kind) -> list[ObjectInfo]:
        rows = self._connect().execute(
            "SELECT name, created_at, ephemeral, owner FROM objects WHERE kind = ? ORDER BY name", (kind.value,))
        infos = []
        for name, created_at, ephemeral, owner in rows.fetchall():
            if ephemeral and not _owner_alive(owner):
                self.delete(kind, name)  # left behind by a process that crashed
                continue
            infos.append(ObjectInfo(kind, name, created_at, bool(ephemeral)))
        return infos

    # -- dicts -------------------------------------------------------------------------------

    def dict_put(self, name: str, key: bytes, value: bytes, *, skip_if_exists: bool = False,
                 ephemeral: bool = False, generation: float | None = None) -> bool:
        # ephemeral Dicts go with their owner (`list_objects`)
        verb = "INSERT OR IGNORE" if skip_if_exists else "INSERT OR REPLACE"
        if generation is None:
            cur = self._connect().execute(f"{verb} INTO dict_items (name, key, value) VALUES (?, ?, ?)",
                                          (name, key, value))
            return cur.rowcount == 1
        cur = self._connect().execute(f"{verb} INTO dict_items (name, key, value) SELECT ?, ?, ? WHERE {_SAME}",
                                      (name, key, value, Kind.DICT.value, name, generation))
        if cur.rowcount == 1:
            return True
        self._check(Kind.DICT, name, generation)  # not written: gone, or (skip_if_exists) already set
        return False

    def dict_get(self, name: str, key: bytes, *, generation: float | None = None) -> bytes | None:
        guard, args = self._guard(Kind.DICT, name, generation)
        found = self._connect().execute(f"SELECT value FROM dict_items WHERE name = ? AND key = ?{guard}",
                                        (name, key, *args)).fetchone()
        if found is None:
            self._check(Kind.DICT, name, generation)
            return None
        return bytes(found[0])

    def dict_pop(self, name: str, key: bytes, *, generation: float | None = None) -> bytes | None:
        guard, args = self._guard(Kind.DICT, name, generation)
        row = self._connect().execute(f"DELETE FROM dict_items WHERE name = ? AND key = ?{guard} RETURNING value",
                                      (name, key, *args)).fetchone()
        if row is None:
            self._check(Kind.DICT, name, generation)
            return None
        return bytes(row[0])

    def dict_update(self, name: str, items: list[tuple[bytes, bytes]], *, ephemeral: bool = False,
                    generation: float | None = None) -> None:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")  # all or nothing, and one fsync instead of one per key
        try:
            self._check(Kind.DICT, name, generation)
            conn.executemany("INSERT OR REPLACE INTO dict_items (name, key, value) VALUES (?, ?, ?)",
                             [(name, k, v) for k, v in items])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def dict_len(self, name: str, *, generation: float | None = None) -> int:
        self._check(Kind.DICT, name, generation)
        row = self._connect().execute("SELECT COUNT(*) FROM dict_items WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    def dict_items(self, name: str, *, generation: float | None = None) -> Iterator[tuple[bytes, bytes]]:
        # a snapshot: iterating while another process writes must not fail or repeat keys
        self._check(Kind.DICT, name, generation)
        rows = self._connect().execute("SELECT key, value FROM dict_items WHERE name = ? ORDER BY rowid", (name,))
        return iter([(bytes(k), bytes(v)) for k, v in rows.fetchall()])

    def dict_clear(self, name: str, *, generation: float | None = None) -> None:
        self._check(Kind.DICT, name, generation)
        self._connect().execute("DELETE FROM dict_items WHERE name = ?", (name,))

    # -- queues ------------------------------------------------------------------------------

    def queue_put(self, name: str, partition: str, values: list[bytes], ttl: float, *,
                  generation: float | None = None) -> None:
        conn, now = self._connect(), time.time()
        conn.execute("BEGIN IMMEDIATE")  # the checks and the insert see the same partition
        try:
            # one statement for the three checks: this is most of a put's cost (bench/bench_primitives.py)
            found, held, head_expires = conn.execute(_PUT_CHECKS, (name, name, partition, now, name, partition)).fetchone()
            if found is None or (generation is not None and found != generation):
                raise QueueGoneError(name)  # rows of a deleted Queue would be invisible forever
            if head_expires is not None and head_expires <= now:  # the oldest item expired: collect them all
                conn.execute("DELETE FROM queue_items WHERE name = ? AND partition = ? AND expires_at <= ?",
                             (name, partition, now))
            if held + len(values) > MAX_PARTITION_ITEMS:
                raise QueueFullError(f"partition holds {held} of {MAX_PARTITION_ITEMS} items")
            conn.executemany("INSERT INTO queue_items (name, partition, value, expires_at) VALUES (?, ?, ?, ?)",
                             [(name, partition, v, now + ttl) for v in values])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        notify(self._fifo(name, partition), len(values))

    def queue_take(self, name: str, partition: str, n: int, *, generation: float | None = None) -> list[bytes]:
        guard, args = self._guard(Kind.QUEUE, name, generation)
        rows = self._connect().execute(
            f"DELETE FROM queue_items WHERE id IN (SELECT id FROM queue_items WHERE {_LIVE}{guard} ORDER BY id LIMIT ?)"
            " RETURNING id, value", (name, partition, time.time(), *args, n)).fetchall()
        if not rows:
            self._check(Kind.QUEUE, name, generation)  # a consumer must not wait on a deleted Queue forever
        return [bytes(value) for _, value in sorted(rows)]  # RETURNING has no order of its own

    def queue_peek(self, name: str, partition: str, n: int, *, generation: float | None = None) -> list[bytes]:
        self._check(Kind.QUEUE, name, generation)
        rows = self._connect().execute(f"SELECT value FROM queue_items WHERE {_LIVE} ORDER BY id LIMIT ?",
                                       (name, partition, time.time(), n)).fetchall()
        return [bytes(value) for value, in rows]

    def queue_len(self, name: str, partition: str | None, *, generation: float | None = None) -> int:
        if partition is None:
            query, args = "name = ? AND expires_at > ?", (name, time.time())
        else:
            query, args = _LIVE, (name, partition, time.time())  # type: ignore[assignment]
        self._check(Kind.QUEUE, name, generation)
        return int(self._connect().execute(f"SELECT COUNT(*) FROM queue_items WHERE {query}", args).fetchone()[0])

    def queue_clear(self, name: str, partition: str | None, *, generation: float | None = None) -> None:
        self._check(Kind.QUEUE, name, generation)
        if partition is None:
            self._connect().execute("DELETE FROM queue_items WHERE name = ?", (name,))
        else:
            self._connect().execute("DELETE FROM queue_items WHERE name = ? AND partition = ?", (name, partition))

    def queue_waiter(self, name: str, partition: str) -> AbstractContextManager[Waiter]:
        return FifoWaiter(self._fifo(name, partition))

    def _fifo(self, name: str, partition: str) -> Path:
        """The partition's wake-up FIFO (`wakeup.fifo_path`: a hash, computed once per partition)."""
        key = (name, partition)
        path = self._fifos.get(key)
        if path is None:
            path = self._fifos[key] = fifo_path(self.wakeups, name, partition)
        return path


def _owner_alive(owner: str | None) -> bool:
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""`Queue`: a named multi-producer, multi-consumer FIFO shared by every process of an app.

>>> q = toolkit.Queue.from_name("jobs", create_if_missing=True)
>>> q.put({"n": 1}); q.get()

``partition="key"`` selects an independent FIFO inside the same Queue (default: one partition).
Each item is handed to exactly one ``get``.  Items expire ``partition_ttl`` seconds (default 24 h)
after their own put (the platform counts from the partition's last put).  Limits as on the
platform: 5,000 items per partition, 1 MiB per item, partition keys of 1-64 bytes.

Where the data lives follows `toolkit.state`.  Locally a blocking ``get`` sleeps on a per-partition
FIFO until a put wakes it (`runtime.primitives.wakeup`); on AWS it polls DynamoDB with back-off
(`runtime.primitives.dynamodb`, where the trade-offs are written down).
"""

from __future__ import annotations

import queue as std_queue
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from toolkit.aio import aio_iter_method, aio_method
from toolkit.construction import refuse_construction
from toolkit.dicts import loads, value_bytes
from toolkit.exception import InvalidError, NotFoundError
from toolkit.handles import BoundHandle
from toolkit.named_objects import NamedObjectMembers, ObjectManager, name_from_id
from toolkit.state import check_name, state_store
from toolkit.unsupported import no_client

__all__ = ["Queue"]

_FULL_BACKOFF = (0.01, 0.5)  # a blocking put on a full partition re-checks this often (rare path)


def _partition(partition: str | None) -> str:
    from runtime.primitives.base import DEFAULT_PARTITION, MAX_PARTITION_KEY_BYTES

    if partition is None:
        return DEFAULT_PARTITION
    if not isinstance(partition, str) or not 0 < len(partition.encode()) <= MAX_PARTITION_KEY_BYTES:
        raise InvalidError(f"partition={partition!r} must be a non-empty string of at most "
                           f"{MAX_PARTITION_KEY_BYTES} bytes (or None for the default partition).")
    return partition


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0):
        raise InvalidError(f"timeout={timeout!r} must be seconds >= 0, or None to wait without limit.")


class Queue(BoundHandle, NamedObjectMembers):
    """A handle on a named Queue; nothing touches the store until the first operation, which binds
    it to the Queue it finds (`toolkit.handles`: a deleted Queue stays deleted for this handle)."""

    _KIND, _ID_PREFIX, _LABEL = "queue", "qu", "Queue"
    objects: ClassVar[ObjectManager[Queue]]  # Queue.objects.create/list/delete (set below the class)

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # the platform's refusal (toolkit.construction)
        refuse_construction("Queue", "Queue.from_name(name, create_if_missing=True), Queue.ephemeral() or "
                                      "Queue.from_id(queue_id)")

    @staticmethod
    def from_name(name: str, *, environment_name: str | None = None, create_if_missing: bool = False,
                  client: Any = None) -> Queue:
        """The Queue called ``name``; with ``create_if_missing`` it is created on first use."""
        no_client("Queue.from_name", client)
        return Queue._make(name, create_if_missing=create_if_missing)

    @staticmethod
    def from_id(queue_id: str, client: Any = None) -> Queue:
        """The Queue whose ``object_id`` is ``queue_id`` (``qu-<name>``), from any process sharing the store."""
        no_client("Queue.from_id", client)
        return Queue._make(name_from_id("Queue", "qu", queue_id))

    @staticmethod
    def validate_partition_key(partition: str | None) -> bytes:
        """The partition key as stored (UTF-8; ``b\"\"`` for the default partition); InvalidError
        for an empty or over-long key, as every Queue method checks."""
        return b"" if partition is None else _partition(partition).encode()

    @staticmethod
    @contextmanager
    def ephemeral(client: Any = None, environment_name: str | None = None,
                  _heartbeat_sleep: float = 300) -> Iterator[Queue]:
        """``with toolkit.Queue.ephemeral() as q:`` -- an anonymous Queue deleted when the block ends."""
        no_client("Queue.ephemeral", client)
        q = Queue._make(f"ephemeral-{secrets.token_hex(8)}", ephemeral=True)
        q._store()
        try:
            yield q
        finally:
            Queue.delete(q.name)

    @staticmethod
    def delete(name: str, *, environment_name: str | None = None) -> None:
        from runtime.primitives.base import Kind

        if not state_store().delete(Kind.QUEUE, check_name("Queue", name)):
            raise NotFoundError(f"No Queue named {name!r} to delete (see `toolkit queue list`).")

    # -- putting -----------------------------------------------------------------------------

    @aio_method
    def put(self, v: Any, block: bool = True, timeout: float | None = None, *, partition: str | None = None,
            partition_ttl: int = 24 * 3600) -> None:
        """Append ``v``.  On a full partition: wait for room (``block``), else raise ``queue.Full``."""
        self._put([v], block, timeout, partition, partition_ttl)

    @aio_method
    def put_many(self, vs: list[Any], block: bool = True, timeout: float | None = None, *,
                 partition: str | None = None, partition_ttl: int = 24 * 3600) -> None:
        """Append every value of ``vs``, in order, all or none."""
        self._put(list(vs), block, timeout, partition, partition_ttl)

    def _put(self, vs: list[Any], block: bool, timeout: float | None, partition: str | None, ttl: int) -> None:
        from runtime.primitives.base import QueueFullError

        _check_timeout(timeout)
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= 24 * 3600:
            raise InvalidError(f"partition_ttl={ttl!r} must be whole seconds from 1 to 86400 (24 h).")
        key, data = _partition(partition), [value_bytes(v) for v in vs]
        delay, deadline = _FULL_BACKOFF[0], None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                return self._op("queue_put", key, data, ttl)  # type: ignore[no-any-return]
            except QueueFullError as exc:
                if not block or (deadline is not None and time.monotonic() >= deadline):
                    raise std_queue.Full(f"Queue {self.name!r}: {exc}; get some items first.") from None
            time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic())))
            delay = min(delay * 2, _FULL_BACKOFF[1])

    # -- getting -----------------------------------------------------------------------------

    @aio_method
    def get(self, block: bool = True, timeout: float | None = None, *, partition: str | None = None) -> Any:
        """The oldest item.  Not blocking: None when empty.  Blocking: wait, and raise ``queue.Empty``
        once ``timeout`` seconds pass without an item."""
        items = self._take(1, block, timeout, partition)
        return loads(items[0]) if items else None

    @aio_method
    def get_many(self, n_values: int, block: bool = True, timeout: float | None = None, *,
                 partition: str | None = None) -> list[Any]:
        """Up to ``n_values`` of the oldest items (waiting, when ``block``, for at least one)."""
        if isinstance(n_values, bool) or not isinstance(n_values, int) or n_values < 1:
            raise InvalidError(f"get_many(n_values={n_values!r}) needs an int >= 1.")
        return [loads(item) for item in self._take(n_values, block, timeout, partition)]

    def _take(self, n: int, block: bool, timeout: float | None, partition: str | None) -> list[bytes]:
        _check_timeout(timeout)
        key = _partition(partition)
        items = list(self._op("queue_take", key, n))
        if items or not block:  # the common case: no wake-up channel to set up
            return items
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._store().queue_waiter(self.name, key) as waiter:  # entered before the check: no lost wake-up
            while True:
                items = list(self._op("queue_take", key, n))
                if items:
                    return items
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise std_queue.Empty(f"Queue {self.name!r} had no item within {timeout} s.")
                waiter.wait(3600.0 if remaining is None else remaining)

    # -- looking -----------------------------------------------------------------------------

    @aio_method
    def len(self, *, partition: str | None = None, total: bool = False) -> int:
        """Items in the partition (or, with ``total=True``, in every partition), exactly, at this moment."""
        if total and partition is not None:
            raise InvalidError("len(total=True) counts every partition; drop partition=... or total=True.")
        return int(self._op("queue_len", None if total else _partition(partition)))

    @aio_method
    def peek(self, n: int = 1, *, partition: str | None = None) -> list[Any]:
        """The ``n`` oldest items, left in place (toolkit's addition, used by ``toolkit queue peek``)."""
        return [loads(item) for item in self._op("queue_peek", _partition(partition), n)]

    @aio_iter_method
    def iterate(self, *, partition: str | None = None, item_poll_timeout: float = 0.0) -> Iterator[Any]:
        """The items in order, without removing them; then, with ``item_poll_timeout``, items put later,
        until none arrives for that long.  (Inspection: items taken meanwhile shift what comes next.)"""
        from runtime.primitives.base import MAX_PARTITION_ITEMS

        key, seen = _partition(partition), 0
        with self._store().queue_waiter(self.name, key) as waiter:
            while True:
                items = self._op("queue_peek", key, MAX_PARTITION_ITEMS)
                yield from (loads(item) for item in items[seen:])
                seen = max(seen, len(items))
                deadline = time.monotonic() + item_poll_timeout
                while self._op("queue_len", key) <= seen:
                    if time.monotonic() >= deadline:
                        return
                    waiter.wait(deadline - time.monotonic())

    @aio_method
    def clear(self, *, partition: str | None = None, all: bool = False) -> None:  # noqa: A002 - platform's name
        """Empty the partition, or every partition with ``all=True``."""
        if all and partition is not None:
            raise InvalidError("clear(all=True) empties every partition; drop partition=... or all=True.")
        self._op("queue_clear", None if all else _partition(partition))


Queue.objects = ObjectManager("queue", Queue._make)

"""The state-store interface shared by the embedded (SQLite) and AWS (DynamoDB) stores.

Everything is bytes: the SDK pickles keys and values before they get here.  A queue partition
is a string ("" is the default partition).  Every method is safe to call from several
processes at once; `take` hands each item to exactly one caller.

An object's *generation* is its creation stamp (``created_at``): a handle binds to the generation
it found, and passes it to every operation (``generation=``).  An operation whose object was
deleted since -- or deleted and created again under the same name -- raises `ObjectGoneError`
and writes nothing, so a stale handle can neither resurrect a deleted Dict or Queue nor write
into its successor.  ``generation=None`` (by-name tools such as the CLI) skips the check.

Front door (``runtime.FRONT_DOORS``): the SDK imports the `StateStore` interface and limits behind
``toolkit.Dict`` / ``toolkit.Queue``; `__all__` is what it offers.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import NamedTuple, Protocol

__all__ = [
    "DEFAULT_PARTITION",
    "DEFAULT_PARTITION_TTL",
    "EPHEMERAL_TTL",
    "Kind",
    "MAX_PARTITION_ITEMS",
    "MAX_PARTITION_KEY_BYTES",
    "MAX_VALUE_BYTES",
    "ObjectGoneError",
    "ObjectInfo",
    "QueueFullError",
    "QueueGoneError",
    "StateStore",
    "Waiter",
]

DEFAULT_PARTITION = ""
MAX_VALUE_BYTES = 1024 * 1024  # the platform's limit for one queue item (and our Dict value limit)
MAX_PARTITION_ITEMS = 5000  # the platform's limit per queue partition
MAX_PARTITION_KEY_BYTES = 64
DEFAULT_PARTITION_TTL = 24 * 3600  # seconds an item lives after its put
EPHEMERAL_TTL = 24 * 3600  # on AWS, an ephemeral object left behind by a crash expires after this


class Kind(str, enum.Enum):
    """What a named object is: names are unique per kind."""

    DICT = "dict"
    QUEUE = "queue"


class ObjectInfo(NamedTuple):
    kind: Kind
    name: str
    created_at: float
    ephemeral: bool


class QueueFullError(Exception):
    """A partition already holds `MAX_PARTITION_ITEMS` items."""


class ObjectGoneError(Exception):
    """The Dict or Queue a handle found was deleted (and maybe created again) since."""

    def __init__(self, kind: Kind, name: str) -> None:
        super().__init__(f"{kind.value} {name!r} was deleted")
        self.kind, self.name = kind, name


class QueueGoneError(ObjectGoneError):
    """A put to a Queue that no longer exists (deleted after the handle found it)."""

    def __init__(self, name: str) -> None:
        super().__init__(Kind.QUEUE, name)


class Waiter(Protocol):
    """Waits for a put to one queue partition.  Entered *before* the reader checks the queue,
    so a put that lands between the check and the wait still wakes it."""

    def wait(self, timeout: float) -> None:
        """Return after a put may have happened, or after ``timeout`` seconds."""
        ...


class StateStore(Protocol):
    # -- named objects ---------------------------------------------------------------------
    def create(self, kind: Kind, name: str, *, ephemeral: bool = False) -> bool:
        """Create the object; False when it already exists."""
        ...

    def exists(self, kind: Kind, name: str) -> bool: ...

    def generation(self, kind: Kind, name: str) -> float | None:
        """The object's creation stamp, None when it does not exist."""
        ...

    def delete(self, kind: Kind, name: str) -> bool:
        """Delete the object and its contents; False when there was none."""
        ...

    def list_objects(self, kind: Kind) -> list[ObjectInfo]: ...

    # -- dicts -------------------------------------------------------------------------------
    def dict_put(self, name: str, key: bytes, value: bytes, *, skip_if_exists: bool = False,
                 ephemeral: bool = False, generation: float | None = None) -> bool:
        """Set ``key``; with ``skip_if_exists`` only when absent.  True when written.  ``ephemeral``: the
        entry belongs to an ephemeral Dict (a store without owner tracking gives it a TTL)."""
        ...

    def dict_get(self, name: str, key: bytes, *, generation: float | None = None) -> bytes | None: ...

    def dict_pop(self, name: str, key: bytes, *, generation: float | None = None) -> bytes | None:
        """Remove and return ``key``'s value (None when absent)."""
        ...

    def dict_update(self, name: str, items: list[tuple[bytes, bytes]], *, ephemeral: bool = False,
                    generation: float | None = None) -> None: ...

    def dict_len(self, name: str, *, generation: float | None = None) -> int: ...

    def dict_items(self, name: str, *, generation: float | None = None) -> Iterator[tuple[bytes, bytes]]:
        ...

    def dict_clear(self, name: str, *, generation: float | None = None) -> None: ...

    # -- queues ------------------------------------------------------------------------------
    def queue_put(self, name: str, partition: str, values: list[bytes], ttl: float, *,
                  generation: float | None = None) -> None:
        """Append ``values`` in order; `QueueFullError` (nothing written) past the partition limit,
        `QueueGoneError` (nothing written) when the Queue was deleted."""
        ...

    def queue_take(self, name: str, partition: str, n: int, *, generation: float | None = None) -> list[bytes]:
        """Remove and return up to ``n`` of the oldest items, without waiting."""
        ...

    def queue_peek(self, name: str, partition: str, n: int, *, generation: float | None = None) -> list[bytes]:
        ...

    def queue_len(self, name: str, partition: str | None, *, generation: float | None = None) -> int:
        """Items in one partition, or in all of them (``None``)."""
        ...

    def queue_clear(self, name: str, partition: str | None, *, generation: float | None = None) -> None:
        """Empty one partition, or all of them (``None``)."""
        ...

    def queue_waiter(self, name: str, partition: str) -> AbstractContextManager[Waiter]: ...

"""`Dict`: a named key-value store shared by every function of an app (and by other apps).

>>> d = toolkit.Dict.from_name("counters", create_if_missing=True)
>>> d["hits"] = d.get("hits", 0) + 1

Keys are any hashable picklable value (pickled with a fixed protocol, so the same key finds the
same entry from any process; ``1`` and ``1.0`` are different keys here, unlike in a Python dict).
Values are anything cloudpickle can serialize, up to 1 MiB.  Where the data lives follows
`toolkit.state`: SQLite under ``TOOLKIT_HOME`` locally, the app's DynamoDB table when deployed.
Each operation is atomic on its own; read-modify-write sequences are not (use a Queue, or
``put(..., skip_if_exists=True)`` as a compare-and-set for first writers).
"""

from __future__ import annotations

import pickle
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

from toolkit.aio import aio_iter_method, aio_method
from toolkit.construction import refuse_construction
from toolkit.exception import InvalidError, NotFoundError
from toolkit.handles import BoundHandle
from toolkit.named_objects import NamedObjectMembers, ObjectManager, name_from_id
from toolkit.state import check_name, state_store
from toolkit.unsupported import no_client

__all__ = ["Dict"]

KEY_PICKLE_PROTOCOL = 4  # fixed: the same key must give the same bytes in every process and version
_MISSING = object()


def key_bytes(key: Any) -> bytes:
    try:
        hash(key)
    except TypeError:
        raise InvalidError(f"Dict keys must be hashable; {key!r} ({type(key).__name__}) is not. "
                           "Use a tuple instead of a list, or a string.") from None
    return pickle.dumps(key, protocol=KEY_PICKLE_PROTOCOL)


def value_bytes(value: Any) -> bytes:
    from runtime.primitives.base import MAX_VALUE_BYTES
    from runtime.serialization import serialize

    data = serialize(value)
    if len(data) > MAX_VALUE_BYTES:
        raise InvalidError(f"That value pickles to {len(data):,} bytes; a Dict or Queue value holds at most "
                           f"{MAX_VALUE_BYTES:,} (1 MiB). Store large data in a Volume or S3 and keep its path here.")
    return data


def loads(data: bytes) -> Any:
    from runtime.serialization import deserialize

    return deserialize(data)


class Dict(BoundHandle, NamedObjectMembers):
    """A handle on a named Dict; nothing touches the store until the first operation, which binds
    it to the Dict it finds (`toolkit.handles`: a deleted Dict stays deleted for this handle)."""

    _KIND, _ID_PREFIX, _LABEL = "dict", "di", "Dict"
    objects: ClassVar[ObjectManager[Dict]]  # Dict.objects.create/list/delete (set below the class)

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # the platform's refusal (toolkit.construction)
        refuse_construction("Dict", "Dict.from_name(name, create_if_missing=True), Dict.ephemeral() or "
                                      "Dict.from_id(dict_id)")

    @staticmethod
    def from_name(name: str, *, environment_name: str | None = None, create_if_missing: bool = False,
                  client: Any = None) -> Dict:
        """The Dict called ``name``; with ``create_if_missing`` it is created on first use.
        (``environment_name`` and ``client`` are accepted for compatibility; the store follows `toolkit.state`.)"""
        no_client("Dict.from_name", client)
        return Dict._make(name, create_if_missing=create_if_missing)

    @staticmethod
    def from_id(dict_id: str, client: Any = None) -> Dict:
        """The Dict whose ``object_id`` is ``dict_id`` (``di-<name>``), from any process sharing the store."""
        no_client("Dict.from_id", client)
        return Dict._make(name_from_id("Dict", "di", dict_id))

    @staticmethod
    @contextmanager
    def ephemeral(data: Mapping[Any, Any] | None = None, client: Any = None, environment_name: str | None = None,
                  _heartbeat_sleep: float = 300) -> Iterator[Dict]:
        """``with toolkit.Dict.ephemeral() as d:`` -- an anonymous Dict deleted when the block ends."""
        no_client("Dict.ephemeral", client)
        d = Dict._make(f"ephemeral-{secrets.token_hex(8)}", ephemeral=True)
        d._store()
        try:
            if data:
                d.update(data)
            yield d
        finally:
            Dict.delete(d.name)

    @staticmethod
    def delete(name: str, *, environment_name: str | None = None) -> None:
        """Delete the Dict called ``name`` and everything in it."""
        from runtime.primitives.base import Kind

        if not state_store().delete(Kind.DICT, check_name("Dict", name)):
            raise NotFoundError(f"No Dict named {name!r} to delete (see `toolkit dict list`).")

    # -- the platform's methods ------------------------------------------------------------------

    @aio_method
    def put(self, key: Any, value: Any, *, skip_if_exists: bool = False) -> bool:
        """Set ``key`` to ``value``; with ``skip_if_exists`` only if absent.  True when it was written."""
        return bool(self._op("dict_put", key_bytes(key), value_bytes(value), skip_if_exists=skip_if_exists,
                             ephemeral=self._ephemeral))

    @aio_method
    def get(self, key: Any, default: Any = None) -> Any:
        data = self._op("dict_get", key_bytes(key))
        return default if data is None else loads(data)

    @aio_method
    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value; KeyError when absent (unless a default is given)."""
        data = self._op("dict_pop", key_bytes(key))
        if data is not None:
            return loads(data)
        if default is _MISSING:
            raise KeyError(key)
        return default

    @aio_method
    def update(self, other: Mapping[Any, Any] | None = None, /, **kwargs: Any) -> None:
        pairs = {**(other or {}), **kwargs}
        self._op("dict_update", [(key_bytes(k), value_bytes(v)) for k, v in pairs.items()], ephemeral=self._ephemeral)

    @aio_method
    def contains(self, key: Any) -> bool:
        return self._op("dict_get", key_bytes(key)) is not None

    @aio_method
    def len(self) -> int:
        return int(self._op("dict_len"))

    @aio_method
    def clear(self) -> None:
        self._op("dict_clear")

    @aio_iter_method
    def keys(self) -> Iterator[Any]:
        return (pickle.loads(k) for k, _ in self._op("dict_items"))

    @aio_iter_method
    def values(self) -> Iterator[Any]:
        return (loads(v) for _, v in self._op("dict_items"))

    @aio_iter_method
    def items(self) -> Iterator[tuple[Any, Any]]:
        return ((pickle.loads(k), loads(v)) for k, v in self._op("dict_items"))

    def __getitem__(self, key: Any) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        self.put(key, value)

    def __delitem__(self, key: Any) -> None:
        self.pop(key)

    def __contains__(self, key: Any) -> bool:
        return bool(self.contains(key))


Dict.objects = ObjectManager("dict", Dict._make)

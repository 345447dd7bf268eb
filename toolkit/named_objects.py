"""What every named platform object (Dict, Queue) answers besides its data: its ID, ``hydrate``,
``info``, ``client``, and the ``objects`` namespace (create / list / delete by name).

On the platform these ask a service; on toolkit they ask the store `toolkit.state` picks (SQLite
under ``TOOLKIT_HOME`` locally, DynamoDB when deployed).  An object's ID is its kind's prefix and
its name (``di-cache``): names are unique per kind in a store, so ``from_id`` finds it again in any
process that reaches the same store.  ``client`` is always None (toolkit has no API client) and the
hosted dashboard has no counterpart.
"""

# mypy: disable-error-code="empty-body"
# (refusals keep the platform's signatures; `toolkit.unsupported.not_supported` replaces their bodies)

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NoReturn, Protocol, TypeVar

from toolkit.exception import InvalidError, NotFoundError
from toolkit.handles import Clientless
from toolkit.unsupported import no_client, not_supported

if TYPE_CHECKING:
    from typing_extensions import Self


class _Named(Protocol):
    name: str

    def _store(self) -> Any: ...


_T = TypeVar("_T", bound=_Named)


@dataclass(frozen=True)
class ObjectInfo:
    """What ``info()`` returns: the platform's DictInfo/QueueInfo fields toolkit knows."""

    name: str
    created_at: datetime.datetime
    created_by: str | None = None  # toolkit records no user


def _kind(kind: str) -> Any:
    from runtime.primitives.base import Kind

    return Kind(kind)


def _store() -> Any:
    from toolkit.state import state_store

    return state_store()


class NamedObjectMembers(Clientless):
    """Mixin for `Dict` and `Queue`: the members that are about the object, not its data."""

    _KIND: ClassVar[str]  # runtime.primitives.base.Kind value: "dict" | "queue"
    _ID_PREFIX: ClassVar[str]  # the platform's ID prefix: "di" | "qu"
    name: str

    @property
    def object_id(self) -> str:
        """``<prefix>-<name>``: stable across processes that share the store (see `from_id`)."""
        return f"{self._ID_PREFIX}-{self.name}"

    def hydrate(self, client: Any = None) -> Self:
        """Find the object in the store now (creating it if the handle was made with
        ``create_if_missing=True``) instead of at the first operation; NotFoundError if it does not exist."""
        no_client(f"{type(self).__name__}.hydrate", client)
        self._store()
        return self

    def _store(self) -> Any:
        raise NotImplementedError  # Dict and Queue bind their store

    def info(self) -> ObjectInfo:
        """Name and creation time, read from the store."""
        for found in _store().list_objects(_kind(self._KIND)):
            if found.name == self.name:
                return ObjectInfo(found.name, datetime.datetime.fromtimestamp(found.created_at, datetime.timezone.utc))
        raise NotFoundError(f"No {type(self).__name__} named {self.name!r} "
                            f"(see `toolkit {self._KIND} list`).")

    @not_supported("get_dashboard_url()", "toolkit has no hosted dashboard",
                   "inspect the object with the `toolkit dict` / `toolkit queue` commands")
    def get_dashboard_url(self) -> NoReturn: ...


def name_from_id(kind: str, prefix: str, object_id: str) -> str:
    """The name inside an ID made by `NamedObjectMembers.object_id`, or an error naming the format."""
    if not isinstance(object_id, str) or not object_id.startswith(f"{prefix}-") or len(object_id) <= len(prefix) + 1:
        raise InvalidError(f"{object_id!r} is not a toolkit {kind} ID; IDs look like '{prefix}-<name>' "
                           f"(the object_id of a {kind}), or use {kind}.from_name(name).")
    return object_id[len(prefix) + 1:]


class ObjectManager(Generic[_T]):
    """``Dict.objects`` / ``Queue.objects``: create, list and delete by name in the store."""

    def __init__(self, kind: str, factory: Any) -> None:
        self._kind, self._factory = kind, factory  # factory(name, create_if_missing=...) -> handle

    def create(self, name: str, *, allow_existing: bool = False, environment_name: str | None = None,
               client: Any = None) -> None:
        """Create ``name``; an existing one is an error unless ``allow_existing``."""
        no_client(f"{self._kind}.objects.create", client)
        handle = self._factory(name)  # validates the name
        if not _store().create(_kind(self._kind), handle.name) and not allow_existing:
            raise InvalidError(f"A {self._kind} named {name!r} already exists; pass allow_existing=True "
                               "to accept it.")

    def list(self, *, max_objects: int | None = None, created_before: datetime.datetime | str | None = None,
             environment_name: str = "", client: Any = None) -> list[_T]:
        """Handles on the store's objects of this kind, newest first (``max_objects`` caps the list)."""
        no_client(f"{self._kind}.objects.list", client)
        before = _timestamp(created_before)
        infos = sorted(_store().list_objects(_kind(self._kind)), key=lambda i: i.created_at, reverse=True)
        handles = [self._factory(i.name) for i in infos if before is None or i.created_at < before]
        return handles if max_objects is None else handles[:max_objects]

    def delete(self, name: str, *, allow_missing: bool = False, environment_name: str | None = None,
               client: Any = None) -> None:
        """Delete ``name`` and its contents; a missing one is an error unless ``allow_missing``."""
        no_client(f"{self._kind}.objects.delete", client)
        handle = self._factory(name)
        if not _store().delete(_kind(self._kind), handle.name) and not allow_missing:
            raise NotFoundError(f"No {self._kind} named {name!r} to delete (see `toolkit {self._kind} list`); "
                                "pass allow_missing=True to ignore that.")


def _timestamp(value: datetime.datetime | str | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidError(f"created_before={value!r} is not an ISO date (e.g. '2026-01-31').") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()

"""What handles share.  Every handle class: no API client (`Clientless`).  `Dict` and `Queue` handles: finding
(or creating) their object once, then staying on it (`BoundHandle`).

A handle binds on its first operation to the object's *generation* (its creation stamp,
`runtime.primitives.base`) and passes it to every later operation.  Once the object is deleted
-- by ``Dict.delete``, ``toolkit dict delete`` or any other process -- every operation of the
handle raises `NotFoundError` naming the object and the fix, and writes nothing: a stale handle
never recreates the object (even with ``create_if_missing=True``) nor writes into a new object of
the same name.  A handle pickled to another process keeps its generation.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from toolkit.exception import NotFoundError

__all__ = ["BoundHandle", "Clientless"]

H = TypeVar("H", bound="BoundHandle")

# what a refused operation did not do, for its message (reads: "read")
_DID_NOTHING = {"dict_put": "written", "dict_update": "written", "dict_pop": "removed", "dict_clear": "removed",
                "queue_put": "put", "queue_take": "taken", "queue_clear": "removed"}


class Clientless:
    """Mixin for the handle classes (Image, Secret, Volume-likes, Dict, Queue, Sandbox, ...): the platform's
    ``client`` member, which toolkit never has."""

    @property
    def client(self) -> None:
        """Always None: toolkit has no API client; it reaches its local stores, builders and your AWS account
        directly."""
        return None


class BoundHandle:
    """Mixin: ``name``, ``_create_if_missing`` and ``_ephemeral`` are set by the subclass."""

    _LABEL: ClassVar[str]  # "Dict" or "Queue", as users write it
    name: str
    _create_if_missing: bool
    _ephemeral: bool
    _bound: Any = None  # the store, once the first operation has found (or created) the object
    _generation: float | None = None  # the object's creation stamp, from the same moment

    @classmethod
    def _make(cls: type[H], name: str, *, create_if_missing: bool = False, ephemeral: bool = False) -> H:
        """A handle on the object called ``name``; the public constructor refuses (toolkit.construction)."""
        from toolkit.state import check_name

        handle = object.__new__(cls)
        handle.name = check_name(cls._LABEL, name)
        handle._create_if_missing, handle._ephemeral = create_if_missing, ephemeral
        return handle

    def __repr__(self) -> str:
        return f"toolkit.{self._LABEL}({self.name!r})"

    def __getstate__(self) -> dict[str, Any]:
        # a handle sent to a worker finds its store again there (connections do not cross processes)
        return {**self.__dict__, "_bound": None}

    def _kind(self) -> Any:
        from runtime.primitives.base import Kind

        return Kind(self._LABEL.lower())

    def _store(self) -> Any:
        if self._bound is None:
            from toolkit.state import state_store

            store = state_store()
            if self._generation is None:
                self._generation = self._find_or_create(store)
            self._bound = store
        return self._bound

    def _find_or_create(self, store: Any) -> float:
        kind = self._kind()
        generation: float | None = store.generation(kind, self.name)
        if generation is None:
            if not (self._create_if_missing or self._ephemeral):
                raise NotFoundError(f"No {self._LABEL} named {self.name!r}; create it with {self._from_name()} "
                                    f"(see `toolkit {self._LABEL.lower()} list`).")
            store.create(kind, self.name, ephemeral=self._ephemeral)
            generation = store.generation(kind, self.name)  # ours, or a concurrent creator's
            if generation is None:  # deleted again between our create and this read
                raise self._gone("created")
        return generation

    def _op(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """``store.<operation>(name, *args, generation=...)``; a deleted object -> `NotFoundError`."""
        from runtime.primitives.base import ObjectGoneError

        store = self._store()
        try:
            return getattr(store, operation)(self.name, *args, generation=self._generation, **kwargs)
        except ObjectGoneError:
            raise self._gone(_DID_NOTHING.get(operation, "read")) from None

    def _gone(self, nothing: str = "read") -> NotFoundError:
        return NotFoundError(f"{self._LABEL} {self.name!r} was deleted; nothing was {nothing}. This handle found it "
                             f"before the delete and does not bring it back: get a new one with {self._from_name()}.")

    def _from_name(self) -> str:
        return f"toolkit.{self._LABEL}.from_name({self.name!r}, create_if_missing=True)"

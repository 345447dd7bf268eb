"""Where a result waits for its caller, and how a serialized result becomes a value or a raise."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from runtime.serialization import RemoteError, deserialize, serialize_error
from toolkit.exception import Error

_END = object()


class RemoteTraceback(Exception):
    """Attached as ``__cause__`` so the worker's traceback prints under the caller's."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


def unwrap(ok: bool, data: bytes) -> Any:
    """The value of a finished call, or raise its error with the remote traceback attached."""
    value = deserialize(data)
    if ok:
        return value
    raise as_exception(value)


def as_exception(err: RemoteError) -> BaseException:
    exc = err.exception if err.exception is not None else Error(f"{err.type_name}: {err.message}")
    exc.__cause__ = RemoteTraceback(err.traceback)
    return exc


class Slot:
    """One call's outcome.  ``stream=True`` also carries a generator's items as they arrive."""

    __slots__ = ("_event", "_outcome", "_completed", "_items")

    def __init__(self, completed: queue.SimpleQueue[Slot] | None = None, stream: bool = False) -> None:
        self._event = threading.Event()
        self._outcome: tuple[bool, bytes] | None = None
        self._completed = completed
        self._items: queue.SimpleQueue[Any] | None = queue.SimpleQueue() if stream else None

    def set(self, ok: bool, data: bytes) -> None:
        self._outcome = (ok, data)
        self._event.set()
        if self._completed is not None:
            self._completed.put(self)
        if self._items is not None:
            self._items.put(_END)

    def fail_local(self, exc: BaseException) -> None:
        """Fail without a worker (e.g. an argument that would not pickle)."""
        self.set(False, serialize_error(exc))

    def on_yield(self, data: bytes) -> None:
        if self._items is not None:
            self._items.put(data)

    def done(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None) -> tuple[bool, bytes]:
        if not self._event.wait(timeout):
            raise TimeoutError
        assert self._outcome is not None
        return self._outcome

    def iter_stream(self) -> Iterator[Any]:
        assert self._items is not None
        while (data := self._items.get()) is not _END:
            yield deserialize(data)
        ok, result = self.wait(None)
        if not ok:
            unwrap(ok, result)

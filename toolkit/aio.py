"""``.aio``: the async twin of every blocking call, as users of the hosted platform write it.

``fn.remote(x)`` blocks; ``await fn.remote.aio(x)`` runs the same call in a thread, so an event
loop keeps serving while it waits.  Iterators (``.map``, ``.remote_gen``) become async iterators.

Two pieces: `Aio`, the per-call wrapper, and `aio_method`, the descriptor that hands one out bound
to an instance, so classes keep plain ``def`` methods (``Function.remote``, ``Dict.get``) that also
resolve on the class itself, as the hosted client's do.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, TypeVar, overload

R = TypeVar("R")

__all__ = ["Aio", "aio_iter_method", "aio_method"]


class Aio(Generic[R]):
    """Makes ``obj.call(...)`` also available as ``await obj.call.aio(...)``."""

    # One is built per attribute read (``d.get`` on a Dict), so it copies nothing: name, doc and
    # signature are read through to the wrapped call when asked (functools.update_wrapper here
    # cost ~1.5 µs of every Dict/Queue operation).
    __slots__ = ("_sync", "_is_iter")

    def __init__(self, sync: Callable[..., R], is_iter: bool = False) -> None:
        self._sync, self._is_iter = sync, is_iter

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]  # help(d.get) shows Dict.get's
        return self._sync.__doc__

    @property
    def __wrapped__(self) -> Callable[..., R]:  # inspect.signature(obj.call) shows the call's own
        return self._sync

    def __getattr__(self, name: str) -> Any:  # __name__, __qualname__, __doc__ of the wrapped call
        if name.startswith("__") and name in ("__name__", "__qualname__", "__annotations__"):
            return getattr(self._sync, name)
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"<Aio of {self._sync!r}>"

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self._sync(*args, **kwargs)

    def aio(self, *args: Any, **kwargs: Any) -> Any:
        import asyncio  # here, not at module level: asyncio costs ~30 ms of `import toolkit`

        if self._is_iter:
            return aiter_in_thread(lambda: iter(self._sync(*args, **kwargs)))  # type: ignore[call-overload]
        return asyncio.to_thread(self._sync, *args, **kwargs)


READ_AHEAD = 1024  # items a blocking iterator may run ahead of its async consumer


async def aiter_in_thread(make: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
    """Iterate a blocking iterator on a thread of its own, so the event loop keeps serving.

    Items travel through a deque; the loop is woken only when the consumer is actually waiting,
    not once per item (a thread hop per item made ``.map.aio`` ~3x slower than ``.map``).
    """
    import asyncio

    handoff = _Handoff(asyncio.get_running_loop())
    threading.Thread(target=handoff.produce, args=(make,), daemon=True, name="toolkit-aio-iter").start()
    try:
        while True:
            for ok, item in handoff.take():
                if not ok:
                    if item is _END:
                        return
                    raise item
                handoff.room.release()  # per item handed on: read-ahead stays bounded if the consumer stops
                yield item
            await handoff.wait()
    finally:
        handoff.stop.set()  # the consumer left early: the producer stops after its current item


_END = object()


class _Handoff:
    """Producer thread -> event loop: a deque, a bound on read-ahead, and wake-ups only when waited for."""

    def __init__(self, loop: Any) -> None:
        import asyncio

        self.loop = loop
        self.items: collections.deque[tuple[bool, Any]] = collections.deque()
        self.room = threading.Semaphore(READ_AHEAD)
        self.lock = threading.Lock()
        self.waiting = False
        self.wake = asyncio.Event()
        self.stop = threading.Event()

    def produce(self, make: Callable[[], Iterator[Any]]) -> None:
        try:
            for item in make():
                while not self.room.acquire(timeout=0.1):
                    if self.stop.is_set():
                        return
                if self.stop.is_set():
                    return
                self._put(True, item)
            self._put(False, _END)
        except BaseException as exc:  # noqa: BLE001 - raised in the consumer, where it belongs
            self._put(False, exc)

    def _put(self, ok: bool, item: Any) -> None:
        with self.lock:
            self.items.append((ok, item))
            notify, self.waiting = self.waiting, False
        if notify:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting any more
                self.loop.call_soon_threadsafe(self.wake.set)

    def take(self) -> list[tuple[bool, Any]]:
        with self.lock:
            taken = list(self.items)
            self.items.clear()
            if not taken:
                self.waiting = True
                self.wake.clear()
        return taken

    async def wait(self) -> None:
        if self.waiting:
            await self.wake.wait()


class aio_method(Generic[R]):  # noqa: N801 - used as a decorator, like property
    """A blocking method that also offers ``await obj.method.aio(...)``.

    Read on the class it is itself (so ``toolkit.Function.remote`` exists and has a signature);
    read on an instance it is an `Aio` bound to it.  Not cached on the instance: handles are pickled
    to workers, and a bound wrapper in their ``__dict__`` would travel too (building one is ~2 µs).
    """

    def __init__(self, f: Callable[..., R], *, is_iter: bool = False) -> None:
        self._f, self._is_iter = f, is_iter
        self.__doc__, self.__wrapped__ = f.__doc__, f  # inspect.signature(Function.remote) shows f's

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self._f(*args, **kwargs)  # read on the class: the plain function, ``Function.remote(fn, x)``

    @overload
    def __get__(self, obj: None, owner: type) -> aio_method[R]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> Aio[R]: ...

    def __get__(self, obj: object | None, owner: type) -> Any:
        if obj is None:
            return self
        return Aio(self._f.__get__(obj, owner), self._is_iter)


def aio_iter_method(f: Callable[..., R]) -> aio_method[R]:
    """`aio_method` for a method returning an iterator: ``.aio`` gives an async iterator."""
    return aio_method(f, is_iter=True)

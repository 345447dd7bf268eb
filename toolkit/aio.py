"""``.aio``: the async twin of every blocking call, as users of the hosted platform write it.

``fn.remote(x)`` blocks; ``await fn.remote.aio(x)`` runs the same call in a thread, so an event
loop keeps serving while it waits.  Iterators (``.map``, ``.remote_gen``) become async iterators.

Two pieces: `Aio`, the per-call wrapper, and `aio_method`, the descriptor that hands one out bound
to an instance, so classes keep plain ``def`` methods (``Function.remote``, ``Dict.get``) that also
resolve on the class itself, as the hosted client's do.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, TypeVar, overload

R = TypeVar("R")

__all__ = ["Aio", "aio_iter_method", "aio_method"]


class Aio(Generic[R]):
    """Makes ``obj.call(...)`` also available as ``await obj.call.aio(...)``."""

    def __init__(self, sync: Callable[..., R], is_iter: bool = False) -> None:
        self._sync, self._is_iter = sync, is_iter
        functools.update_wrapper(self, sync)

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self._sync(*args, **kwargs)

    def aio(self, *args: Any, **kwargs: Any) -> Any:
        import asyncio  # here, not at module level: asyncio costs ~30 ms of `import toolkit`

        if self._is_iter:
            return _aiter_in_thread(lambda: iter(self._sync(*args, **kwargs)))  # type: ignore[call-overload]
        return asyncio.to_thread(self._sync, *args, **kwargs)


async def _aiter_in_thread(make: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
    # Iterate a blocking iterator off the event loop, so streaming responses keep flowing.
    import asyncio

    it = await asyncio.to_thread(make)
    done = object()
    while True:
        item = await asyncio.to_thread(next, it, done)
        if item is done:
            return
        yield item


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

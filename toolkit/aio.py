"""``.aio``: the async twin of every blocking call, as users of the hosted platform write it.

``fn.remote(x)`` blocks; ``await fn.remote.aio(x)`` runs the same call in a thread, so an event
loop keeps serving while it waits.  Iterators (``.map``, ``.remote_gen``) become async iterators.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, TypeVar

R = TypeVar("R")


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

"""`aio_method`: a blocking method of an object (Dict, Queue) that also offers ``await obj.method.aio(...)``.

The per-call wrapper is `toolkit.aio.Aio` (what ``fn.remote.aio`` uses); this is the descriptor
that hands one out bound to the instance, so methods keep their plain ``def`` in the class body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from toolkit.aio import Aio

R = TypeVar("R")

__all__ = ["aio_iter_method", "aio_method"]


class aio_method(Generic[R]):  # noqa: N801 - used as a decorator, like property
    def __init__(self, f: Callable[..., R], *, is_iter: bool = False) -> None:
        self._f, self._is_iter = f, is_iter
        self.__doc__ = f.__doc__

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

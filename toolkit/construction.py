"""Handles that programs never construct: they come from factories (``Image.debian_slim()``,
``Volume.from_name(name)``, ...), as on the hosted platform, whose classes take ``(*args, **kwargs)``
and refuse a direct call.

So the public constructor of such a class keeps the platform's signature and refuses, naming the
factories; toolkit's own code builds instances through the class's private ``_make`` classmethod
(typed, so mypy checks every construction).  Pickle and copy never call ``__init__`` (they go
through ``__new__`` and the instance's state), so handles still travel to workers.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NoReturn, TypeVar

from toolkit.exception import InvalidError

__all__ = ["refuse_construction", "dataclass_instance"]

_T = TypeVar("_T")


def refuse_construction(kind: str, origins: str) -> NoReturn:
    """The public constructor's answer: what not to do, and where such objects come from (``origins``
    completes "a <kind> comes from ...")."""
    article = "an" if kind[0] in "AEIOU" else "a"
    raise InvalidError(f"toolkit.{kind}(...) is not constructed directly: {article} {kind} comes from {origins}.")


def dataclass_instance(cls: type[_T], **values: Any) -> _T:
    """An instance of the (frozen) dataclass ``cls`` filled as its generated ``__init__`` would fill it:
    the given values, then each other field's default (``init=False`` fields always take theirs)."""
    instance = object.__new__(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # cls is a dataclass by contract
        if f.init and f.name in values:
            value = values.pop(f.name)
        elif f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            raise TypeError(f"{cls.__name__}._make() needs a value for {f.name!r}")
        object.__setattr__(instance, f.name, value)  # frozen: the one way in, as dataclasses' own __init__
    if values:
        raise TypeError(f"{cls.__name__}._make() got unknown fields {sorted(values)}")
    return instance

"""Refusals: platform names that resolve on toolkit but cannot work here, and fail clearly when used.

A program written for the hosted platform should stop at a message that names the feature, why it
cannot work on toolkit, and what to do instead, never at an ``AttributeError`` or an ``ImportError``.
So every such name exists, keeps the platform's signature (editors and the parity table see its
parameters), and raises `NotSupportedError` only when it is *called* (or, for a class, instantiated
or asked for a member): importing a module that mentions it stays harmless.

Each refusal carries ``__toolkit_not_supported__`` (the one-line reason); tests/core/parity.py reads
it to mark the name "not supported" in docs/parity.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from toolkit.exception import NotSupportedError

_F = TypeVar("_F", bound=Callable[..., Any])


def refusal(feature: str, why: str, instead: str) -> str:
    """The message every refusal uses: what, why, and the nearest alternative."""
    return f"{feature} is not supported by toolkit: {why}. Instead, {instead}."


def not_supported(feature: str, why: str, instead: str) -> Callable[[_F], _F]:
    """Turn a function or method with the platform's signature into a refusal when called."""
    message = refusal(feature, why, instead)

    def mark(fn: _F) -> _F:
        @functools.wraps(fn)  # keeps the signature: parameters stay visible by name
        def refuse(*args: Any, **kwargs: Any) -> NoReturn:
            raise NotSupportedError(message)

        refuse.__toolkit_not_supported__ = message  # type: ignore[attr-defined]
        return refuse  # type: ignore[return-value]
    return mark


class UnsupportedProperty(property):
    """A platform property that refuses when read on an instance (reading it on the class is harmless)."""

    def __init__(self, feature: str, why: str, instead: str) -> None:
        message = refusal(feature, why, instead)

        def refuse(_self: Any) -> NoReturn:
            raise NotSupportedError(message)

        super().__init__(refuse, doc=message)
        self.__toolkit_not_supported__ = message


class _RefusingType(type):
    """Metaclass of refusing classes: a public member asked of the class itself refuses too
    (``Client.from_env()``), so no platform classmethod ends in an ``AttributeError``."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotSupportedError(f"{cls.__toolkit_not_supported__} ({cls.__name__}.{name} was asked for.)")


class UnsupportedClass(metaclass=_RefusingType):
    """Base of platform classes toolkit refuses.  A subclass sets ``__toolkit_not_supported__`` with
    `refusal(...)` and declares the platform's ``__init__`` signature; instantiating it raises."""

    __toolkit_not_supported__ = "not supported by toolkit"

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise NotSupportedError(cls.__toolkit_not_supported__)


def refusing_module_getattr(module: str, why: str, instead: str) -> Callable[[str], NoReturn]:
    """A module ``__getattr__`` (PEP 562) that refuses every public name the module does not define,
    so ``from toolkit.<module> import <platform name>`` names the alternative instead of failing."""
    def __getattr__(name: str) -> NoReturn:
        if name.startswith("_"):
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        raise NotSupportedError(refusal(f"{module}.{name}", why, instead))
    return __getattr__


def no_client(where: str, client: Any) -> None:
    """The platform's ``client=`` keyword: accepted as None (its default), refused otherwise, since a
    platform client could only point somewhere toolkit does not talk to."""
    if client is not None:
        raise NotSupportedError(refusal(f"{where}(client={client!r})", "toolkit has no API client: it uses "
                                        "the local store or your AWS account directly", "leave client unset"))

"""Class parameters (``toolkit.parameter()`` fields): the one codec for their values.

A class declares parameters as ``(name, type name, default)`` triples (`toolkit.spec.ClsInfo`,
or `runtime.manifest.ClsParameter` read back from a manifest); their values travel as `Params`,
``((name, value), ...)`` in declaration order.  This module checks values against the
declaration (`bind`), reads them from a URL's query string (`from_query`), and writes them to
and from JSON (`to_json` / `from_json`; a bytes value is hex there, as in the manifest).

The SDK (`toolkit.cls`), ``toolkit serve``, the manifest and the container runtime all use it,
so a URL selects the same instance locally and on AWS.  Stdlib only.

Front door (``runtime.FRONT_DOORS``): the SDK imports the class-parameter codec (`Params`, `bind`,
`from_query`) the SDK's ``Cls`` uses; `__all__` is what it offers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "TYPE_NAMES",
    "Declared",
    "ParameterError",
    "Params",
    "bind",
    "from_json",
    "from_query",
    "to_json",
    "type_name_of",
    "value_from_json",
    "value_to_json",
]

Params = tuple[tuple[str, Any], ...]  # parameter values, in declaration order
Declared = Iterable[tuple[str, str, Any]]  # (name, type name, default or None)
TYPE_NAMES: dict[type, str] = {int: "int", str: "str", bool: "bool", bytes: "bytes"}


class ParameterError(ValueError):
    """A parameter value that does not fit its declaration; the message names it and the fix."""


def type_name_of(value: object) -> str | None:
    """``"int"`` for 3: exact types only (a bool is not an int here)."""
    return TYPE_NAMES.get(type(value))


def bind(cls_name: str, declared: Declared, values: Mapping[str, Any]) -> Params:
    """``values`` checked against the declaration, with defaults filled in, in declaration order."""
    by_name = {name: (type_name, default) for name, type_name, default in declared}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise ParameterError(
            f"{cls_name} has no parameter {unknown[0]!r}; its parameters are: {', '.join(by_name) or 'none'}.")
    bound = []
    for name, (type_name, default) in by_name.items():
        value = values.get(name, default)
        if value is None:
            raise ParameterError(f"{cls_name} needs a value for parameter {name!r} (it has no default).")
        if type_name_of(value) != type_name:
            raise ParameterError(f"{cls_name}.{name} is a {type_name}; got {value!r}.")
        bound.append((name, value))
    return tuple(bound)


def from_query(cls_name: str, declared: Declared, query: Mapping[str, str]) -> Params:
    """Values from a URL's query string (``?root=%2F&size=3``), converted to their types, then `bind`."""
    declared = tuple(declared)
    values: dict[str, Any] = {}
    for name, type_name, _default in declared:
        if name not in query:
            continue
        raw = query[name]
        try:
            values[name] = _FROM_TEXT[type_name](raw)
        except ValueError:
            raise ParameterError(f"Query parameter {name}={raw!r} is not a valid {type_name}.") from None
    return bind(cls_name, declared, values)


def _bool_from_text(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


_FROM_TEXT: dict[str, Callable[[str], Any]] = {"int": int, "str": str, "bool": _bool_from_text,
                                                "bytes": lambda s: s.encode()}


def value_to_json(value: Any) -> Any:
    """A value in JSON terms: bytes as hex, the other types as they are."""
    return value.hex() if isinstance(value, bytes) else value


def value_from_json(type_name: str, data: Any) -> Any:
    """The inverse of `value_to_json` for a parameter of ``type_name`` (raises ValueError on bad hex)."""
    return bytes.fromhex(data) if type_name == "bytes" and data is not None else data


def to_json(params: Params) -> list[list[Any]]:
    """``params`` in JSON terms: ``[name, value, is_bytes]`` (bytes values as hex, flagged)."""
    return [[k, value_to_json(v), isinstance(v, bytes)] for k, v in params]


def from_json(data: list[list[Any]]) -> Params:
    return tuple((k, value_from_json("bytes" if is_bytes else "", v)) for k, v, is_bytes in data)

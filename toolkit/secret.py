"""``toolkit.Secret``: named environment variables for functions.

Values stay in memory; the manifest records only names and key names.  On AWS a named
secret lives in Secrets Manager; under ``toolkit serve`` in the local secret store.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.exception import InvalidError, NotFoundError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Secret:
    name: str
    source: str  # "named" | "dict" | "dotenv"
    required_keys: tuple[str, ...] = ()
    _values: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:  # never show values
        return f"Secret(name={self.name!r}, source={self.source!r}, keys={list(self.keys)!r})"

    @staticmethod
    def from_name(name: str, *, required_keys: Sequence[str] = ()) -> Secret:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise InvalidError(
                f"Invalid secret name {name!r}: use 1-64 letters, digits, '.', '_' or '-' (e.g. 'my-api-key')."
            )
        return Secret(name, "named", tuple(_check_key(k) for k in required_keys))

    @staticmethod
    def from_dict(values: Mapping[str, str | None]) -> Secret:
        clean = {_check_key(k): v for k, v in values.items() if v is not None}
        for key, value in clean.items():
            if not isinstance(value, str):
                raise InvalidError(f"Secret.from_dict values must be str; {key!r} is {type(value).__name__}.")
        return Secret(_inline_name("inline", clean), "dict", tuple(sorted(clean)), clean)

    @staticmethod
    def from_dotenv(path: str | os.PathLike[str] = ".env") -> Secret:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            raise NotFoundError(f"Secret.from_dotenv: no file at {str(path)!r}; create it or pass its path.") from None
        values = _parse_dotenv(text)
        return Secret(_inline_name("dotenv", values), "dotenv", tuple(sorted(values)), values)

    @property
    def keys(self) -> tuple[str, ...]:
        return self.required_keys

    def values(self) -> dict[str, str]:
        """Values of an inline secret (from_dict / from_dotenv); named secrets resolve at run time."""
        return dict(self._values)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "keys": sorted(self.keys)}


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise InvalidError(f"Secret key {key!r} is not a valid environment variable name (e.g. 'API_TOKEN').")
    return key


def _inline_name(prefix: str, values: Mapping[str, str]) -> str:
    # Derived from key names only, so the name is stable and reveals nothing about values.
    return f"{prefix}-" + hashlib.sha256(",".join(sorted(values)).encode()).hexdigest()[:8]


def _parse_dotenv(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            raise InvalidError(f".env line {number} has no '=': write KEY=value.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[_check_key(key.strip())] = value
    return values

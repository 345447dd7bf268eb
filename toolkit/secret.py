"""``toolkit.Secret``: named environment variables for functions.

Values stay in memory; the manifest records only names and key names.  On AWS a named
secret lives in Secrets Manager; under ``toolkit serve`` in the local secret store.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

from toolkit import secret_store
from toolkit.construction import dataclass_instance, refuse_construction
from toolkit.exception import InvalidError, NotFoundError
from toolkit.handles import Clientless
from toolkit.secret_store import check_secret_name
from toolkit.unsupported import no_client, not_supported

_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, init=False)
class Secret(Clientless):
    name: str
    source: str  # "named" | "dict" | "dotenv"
    required_keys: tuple[str, ...] = ()
    _values: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    objects: ClassVar[SecretObjects]  # Secret.objects.create/list/delete (set below)

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # the platform's signature (toolkit.construction)
        refuse_construction("Secret", "Secret.from_name(name), Secret.from_dict({...}), Secret.from_dotenv(path) "
                                      "or Secret.from_local_environ([...])")

    @classmethod
    def _make(cls, name: str, source: str, required_keys: tuple[str, ...] = (),
              values: Mapping[str, str] | None = None) -> Secret:
        return dataclass_instance(cls, name=name, source=source, required_keys=required_keys,
                                  _values=values if values is not None else {})

    def __repr__(self) -> str:  # never show values
        return f"Secret(name={self.name!r}, source={self.source!r}, keys={list(self.keys)!r})"

    @staticmethod
    def from_name(name: str, *, environment_name: str | None = None, required_keys: Sequence[str] = (),
                  client: Any = None) -> Secret:
        """A secret stored under ``name``: the local store (`toolkit secret create`) under serve/run,
        Secrets Manager when deployed.  ``environment_name`` is accepted and unused."""
        no_client("Secret.from_name", client)
        return Secret._make(check_secret_name(name), "named", tuple(_check_key(k) for k in required_keys))

    @staticmethod
    def from_dict(env_dict: Mapping[str, str | None]) -> Secret:
        """An inline secret from these values (keys with the value None are left out)."""
        clean = {_check_key(k): v for k, v in env_dict.items() if v is not None}
        for key, value in clean.items():
            if not isinstance(value, str):
                raise InvalidError(f"Secret.from_dict values must be str; {key!r} is {type(value).__name__}.")
        return Secret._make(_inline_name("inline", clean), "dict", tuple(sorted(clean)), clean)

    @staticmethod
    def from_dotenv(path: str | os.PathLike[str] | None = None, *, filename: str = ".env",
                    client: Any = None) -> Secret:
        """An inline secret from a ``.env`` file: ``path`` itself when it is a file, else ``filename``
        in the directory ``path`` (default: the current directory).  Unlike the platform, parent
        directories are not searched."""
        no_client("Secret.from_dotenv", client)
        path = _dotenv_path(path, filename)
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            raise NotFoundError(f"Secret.from_dotenv: no file at {str(path)!r}; create it or pass its path.") from None
        values = _parse_dotenv(text)
        return Secret._make(_inline_name("dotenv", values), "dotenv", tuple(sorted(values)), values)

    @staticmethod
    def from_local_environ(env_keys: list[str]) -> Secret:
        """An inline secret from these variables of the environment the app is driven from, read now.
        Inside a function (a local worker or a deployed container) a missing variable is no error: the
        values arrive there as the function's secret, so the secret holds the ones that did (which a
        call made from there passes on)."""
        from toolkit.context import is_local

        if not is_local():
            return Secret.from_dict({k: os.environ[k] for k in env_keys if k in os.environ})
        missing = [k for k in env_keys if k not in os.environ]
        if missing:
            raise InvalidError(f"Secret.from_local_environ: {', '.join(map(repr, missing))} not set in this "
                               "process's environment; export it or leave it out of env_keys.")
        return Secret.from_dict({k: os.environ[k] for k in env_keys})

    def update(self, env_dict: Mapping[str, str]) -> None:
        """Add or change keys of a named secret in the local store (what `toolkit serve`/`run` read); a
        deployed app's copy comes from `toolkit secret create NAME K=V --target aws`."""
        if self.source != "named":
            raise InvalidError(f"Secret.update: {self.name!r} is an inline secret (from_dict/from_dotenv); "
                               "update works on Secret.from_name(...) secrets; build a new inline secret instead.")
        values = Secret.from_dict(env_dict).values()
        try:
            current = secret_store.read_named(self.name)
        except NotFoundError:
            current = {}
        secret_store.write_named(self.name, {**current, **values})

    def info(self, *, refresh: bool = False) -> SecretInfo:
        """Name and creation time of a named secret in the local store."""
        path = secret_store.store_dir() / f"{self.name}.json"
        if self.source != "named" or not path.is_file():
            raise NotFoundError(f"Secret.info: no secret {self.name!r} in the local store (`toolkit secret list` "
                                "shows them); inline secrets have no stored record.")
        created = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
        return SecretInfo(self.name, created)

    @property
    def object_id(self) -> str:
        """``st-<name>``: toolkit names secrets, it issues no IDs."""
        return f"st-{self.name}"

    def hydrate(self, client: Any = None) -> Secret:
        """A named secret must exist in the local store (NotFoundError naming how to create it); inline
        secrets are always ready."""
        no_client("Secret.hydrate", client)
        if self.source == "named":
                secret_store.read_named(self.name)
        return self

    @not_supported("Secret.get_dashboard_url()", "toolkit has no hosted dashboard",
                   "list secrets with `toolkit secret list`")
    def get_dashboard_url(self) -> NoReturn: ...  # type: ignore[empty-body]  # the decorator refuses

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


@dataclass(frozen=True)
class SecretInfo:
    """What ``Secret.info()`` returns: the platform's SecretInfo fields toolkit knows."""

    name: str
    created_at: datetime.datetime
    created_by: str | None = None  # toolkit records no user


def _dotenv_path(path: str | os.PathLike[str] | None, filename: str) -> str:
    if path is None:
        return filename
    return os.path.join(path, filename) if os.path.isdir(path) else os.fspath(path)


class SecretObjects:
    """``Secret.objects``: create, list and delete named secrets in the local store."""

    def create(self, name: str, env_dict: Mapping[str, str], *, allow_existing: bool = False,
               environment_name: str | None = None, client: Any = None) -> None:
        """Store ``name`` with these values; an existing one is an error unless ``allow_existing``."""
        values = Secret.from_dict(env_dict).values()
        if name in secret_store.list_named() and not allow_existing:
            raise InvalidError(f"A secret named {name!r} already exists; pass allow_existing=True to keep it, "
                               "or Secret.from_name(name).update(...) to change it.")
        if name not in secret_store.list_named():
            secret_store.write_named(name, values)

    def list(self, *, max_objects: int | None = None, created_before: Any = None, environment_name: str = "",
             client: Any = None) -> list[Secret]:
        """Handles on the local store's secrets, by name (``created_before`` is accepted and unused)."""
        handles = [Secret.from_name(name) for name in secret_store.list_named()]
        return handles if max_objects is None else handles[:max_objects]

    def delete(self, name: str, *, allow_missing: bool = False, environment_name: str | None = None,
               client: Any = None) -> None:
        """Remove ``name`` from the local store; a missing one is an error unless ``allow_missing``."""
        try:
            secret_store.delete_named(name)
        except NotFoundError:
            if not allow_missing:
                raise


Secret.objects = SecretObjects()

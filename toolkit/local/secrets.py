"""Secrets for local workers: inline secrets carry their values; named ones come from the local store.

The local store is ``$TOOLKIT_HOME/secrets/<name>.json`` (a JSON object, file mode 0600),
written by ``toolkit secret create NAME KEY=VALUE ...``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from toolkit import config
from toolkit.exception import InvalidError, NotFoundError
from toolkit.secret import Secret


def store_dir() -> Path:
    return config.home() / "secrets"


def read_named(name: str) -> dict[str, str]:
    path = store_dir() / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotFoundError(
            f"Secret {name!r} does not exist locally; create it with: toolkit secret create {name} KEY=value"
        ) from None
    except json.JSONDecodeError:
        raise InvalidError(f"The local secret file {path} is not JSON; recreate it with toolkit secret create.") from None
    return {str(k): str(v) for k, v in data.items()}


def write_named(name: str, values: dict[str, str]) -> Path:
    Secret.from_name(name)  # validates the name
    directory = store_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{name}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(values, fh)
    return path


def list_named() -> dict[str, list[str]]:
    """Every local secret's name and its keys (values stay in their files)."""
    directory = store_dir()
    if not directory.is_dir():
        return {}
    return {path.stem: sorted(read_named(path.stem)) for path in sorted(directory.glob("*.json"))}


def delete_named(name: str) -> Path:
    """Remove local secret ``name``; a name that does not exist is an error naming the ones that do."""
    Secret.from_name(name)  # validates the name (no path separators)
    path = store_dir() / f"{name}.json"
    try:
        path.unlink()
    except FileNotFoundError:
        known = ", ".join(list_named()) or "none"
        raise NotFoundError(f"No local secret {name!r} (local secrets: {known}); `toolkit secret list` shows them.") from None
    return path


def secret_env(secrets: Iterable[Secret]) -> dict[str, str]:
    """Environment variables a worker gets from its function's secrets (later secrets win)."""
    env: dict[str, str] = {}
    for secret in secrets:
        values = read_named(secret.name) if secret.source == "named" else secret.values()
        missing = [k for k in secret.required_keys if k not in values]
        if missing:
            raise NotFoundError(f"Secret {secret.name!r} lacks required key(s) {', '.join(missing)}.")
        env.update(values)
    return env

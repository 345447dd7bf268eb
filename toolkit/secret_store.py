"""The local secret store: ``$TOOLKIT_HOME/secrets/<name>.json`` (a JSON object, file mode 0600),
written by ``toolkit secret create NAME KEY=VALUE ...`` and read by local workers.

It knows files and names only (never `toolkit.secret`), so `Secret`'s members and
`toolkit.local.secrets` can both use it without importing each other.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from toolkit import config
from toolkit.exception import InvalidError, NotFoundError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_secret_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidError(
            f"Invalid secret name {name!r}: use 1-64 letters, digits, '.', '_' or '-' (e.g. 'my-api-key')."
        )
    return name


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
    check_secret_name(name)
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
    check_secret_name(name)  # no path separators
    path = store_dir() / f"{name}.json"
    try:
        path.unlink()
    except FileNotFoundError:
        known = ", ".join(list_named()) or "none"
        raise NotFoundError(f"No local secret {name!r} (local secrets: {known}); `toolkit secret list` shows them.") from None
    return path

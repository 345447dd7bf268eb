"""Secrets for local workers: inline secrets carry their values; named ones come from the local store
(`toolkit.secret_store`: ``$TOOLKIT_HOME/secrets/<name>.json``, written by ``toolkit secret create``).
"""

from __future__ import annotations

from collections.abc import Iterable

from toolkit.exception import NotFoundError
from toolkit.secret import Secret
from toolkit.secret_store import delete_named, list_named, read_named, store_dir, write_named

__all__ = ["delete_named", "list_named", "read_named", "secret_env", "store_dir", "write_named"]


def secret_env(secrets: Iterable[Secret]) -> dict[str, str]:
    """Environment variables a worker gets from its function's secrets (later secrets win)."""
    env: dict[str, str] = {}
    for secret in secrets:
        values = read_named(secret.name) if secret.source == "named" else secret.values()
        missing = [k for k in secret.required_keys if k not in values]
        if missing:
            raise NotFoundError(_missing_keys_message(secret, sorted(values), missing))
        env.update(values)
    return env


def _missing_keys_message(secret: Secret, present: list[str], missing: list[str]) -> str:
    """Which required keys a secret lacks, what it has, and how to give it all of them."""
    said = f"Secret {secret.name!r} lacks required key(s) {', '.join(missing)} (it has {', '.join(present) or 'none'})"
    if secret.source != "named":
        return f"{said}; add them to the values it is made from."
    every = " ".join(f"{key}=..." for key in [*present, *missing])
    return f"{said}; replace it with every key: toolkit secret create {secret.name} {every}"

"""The stack state store: where Pulumi keeps stack state, and the passphrase that encrypts its secrets.

Pulumi calls this its "backend"; toolkit says *stack state store*, because "backend" already names
where a function runs (``backend="lambda"``) and a bare "state store" is Dict/Queue's
(runtime.primitives).  Default: a local file store under ``$TOOLKIT_HOME/pulumi-state``
(``file://``), so a deploy needs no Pulumi Cloud account.  Teams share state with
``--state-url s3://bucket`` (or ``TOOLKIT_STATE_URL``; the spellings that mirror Pulumi's
``PULUMI_BACKEND_URL``, ``--backend-url`` and ``TOOLKIT_BACKEND_URL``, still work) and a shared
``PULUMI_CONFIG_PASSPHRASE``.  Without one in the environment, a random passphrase is generated once and kept in ``$TOOLKIT_HOME/pulumi-passphrase``
with mode 0600: losing it makes the stack's secrets unreadable, so it is never regenerated.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from toolkit import config

__all__ = ["PASSPHRASE_ENV", "STATE_URL_ENVS", "StackStateStore", "passphrase", "resolve_state_store"]

# The first one set wins; the second mirrors Pulumi's PULUMI_BACKEND_URL, the name users know.
STATE_URL_ENVS = ("TOOLKIT_STATE_URL", "TOOLKIT_BACKEND_URL")
PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE"
PASSPHRASE_FILE = "pulumi-passphrase"


@dataclass(frozen=True)
class StackStateStore:
    """Where Pulumi keeps the stacks' state (``url``) and the passphrase for their secrets."""

    url: str
    passphrase: str

    def env(self) -> dict[str, str]:
        """What every ``pulumi`` command of a toolkit workspace runs with."""
        return {"PULUMI_BACKEND_URL": self.url, PASSPHRASE_ENV: self.passphrase}


def state_dir() -> Path:
    return config.home() / "pulumi-state"


def passphrase_path() -> Path:
    return config.home() / PASSPHRASE_FILE


def passphrase() -> str:
    """``$PULUMI_CONFIG_PASSPHRASE``, else the stored one, else a new one stored 0600."""
    if PASSPHRASE_ENV in os.environ:
        return os.environ[PASSPHRASE_ENV]
    path = passphrase_path()
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    # O_EXCL: two deploys starting at once must not write two different passphrases.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def resolve_state_store(url: str | None = None) -> StackStateStore:
    """``url``, else the first of `STATE_URL_ENVS` set, else the file store under ``$TOOLKIT_HOME``."""
    chosen = url or next((os.environ[name] for name in STATE_URL_ENVS if os.environ.get(name)), None)
    if not chosen:
        directory = state_dir()
        directory.mkdir(parents=True, exist_ok=True)
        chosen = directory.resolve().as_uri()
    return StackStateStore(chosen, passphrase())

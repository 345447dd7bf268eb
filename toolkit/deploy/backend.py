"""Where Pulumi keeps stack state, and the passphrase that encrypts its secrets.

Default: a local file backend under ``$TOOLKIT_HOME/pulumi-state`` (``file://``), so a
deploy needs no Pulumi Cloud account.  Teams share state with ``--backend-url s3://bucket``
(or ``TOOLKIT_BACKEND_URL``) and a shared ``PULUMI_CONFIG_PASSPHRASE``.  Without one in the
environment, a random passphrase is generated once and kept in ``$TOOLKIT_HOME/pulumi-passphrase``
with mode 0600: losing it makes the stack's secrets unreadable, so it is never regenerated.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from toolkit import config

__all__ = ["BACKEND_ENV", "PASSPHRASE_ENV", "Backend", "passphrase", "resolve_backend"]

BACKEND_ENV = "TOOLKIT_BACKEND_URL"
PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE"
PASSPHRASE_FILE = "pulumi-passphrase"


@dataclass(frozen=True)
class Backend:
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


def resolve_backend(url: str | None = None) -> Backend:
    chosen = url or os.environ.get(BACKEND_ENV)
    if not chosen:
        directory = state_dir()
        directory.mkdir(parents=True, exist_ok=True)
        chosen = directory.resolve().as_uri()
    return Backend(chosen, passphrase())

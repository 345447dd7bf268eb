"""Where toolkit keeps its state and the few settings that shape URLs.

Settings resolve in this order: environment variable, then ``$TOOLKIT_HOME/config.toml``,
then the default.

=================  =======================  ==========================================
setting            environment variable     default
=================  =======================  ==========================================
home directory     ``TOOLKIT_HOME``         ``~/.toolkit``
workspace slug     ``TOOLKIT_WORKSPACE``    ``default``
environment        ``TOOLKIT_ENVIRONMENT``  none (no suffix after the workspace)
base domain        ``TOOLKIT_DOMAIN``       none (URLs come from the deployment)
ephemeral suffix   ``TOOLKIT_DEV_SUFFIX``   ``-dev``
local workers' env ``TOOLKIT_LOCAL_ENV``    ``image`` (each image's own; ``current``: yours)
=================  =======================  ==========================================

The config file uses the lower-case names: ``workspace = "ecorp"``, ``environment``,
``domain``, ``dev_suffix``, ``local_env``.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from toolkit.exception import InvalidError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULTS: dict[str, str | None] = {
    "workspace": "default",
    "environment": None,
    "domain": None,
    "dev_suffix": "-dev",
    "local_env": "image",  # where serve/run workers run: `toolkit.images.local_env`
}


def home() -> Path:
    return Path(os.environ.get("TOOLKIT_HOME") or Path.home() / ".toolkit")


def calls_db_path() -> Path:
    return home() / "calls.sqlite3"


@lru_cache(maxsize=8)
def _read_file(path: Path, mtime: float) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidError(f"{path} is not valid TOML ({exc}); fix or delete it") from None


def _file_settings() -> dict[str, Any]:
    path = home() / "config.toml"
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return {}
    return _read_file(path, mtime)


def setting(name: str) -> str | None:
    """The value of one setting from ``DEFAULTS`` (env var, then config file, then default)."""
    env = os.environ.get(f"TOOLKIT_{name.upper()}")
    if env is not None:
        return env
    value = _file_settings().get(name, DEFAULTS[name])
    return None if value is None else str(value)


def setting_env(name: str) -> str | None:
    """A process-level switch set by toolkit itself (e.g. ``TOOLKIT_SERVE_ORIGIN``), not a user setting."""
    return os.environ.get(name) or None

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
``domain``, ``dev_suffix``, ``local_env``.  Any other key is reported once on stderr, with the
closest setting's name (``workspce`` -> did you mean ``workspace``?), and otherwise ignored.
"""

from __future__ import annotations

import difflib
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
            settings: dict[str, Any] = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidError(f"{path} is not valid TOML ({exc}); fix or delete it") from None
    _warn_unknown_keys(settings, path)
    return settings


_WARNED_ENV = "TOOLKIT_CONFIG_WARNED"  # inherited by workers, so one serve warns once, not once per process


def _warn_unknown_keys(settings: dict[str, Any], path: Path) -> None:
    """A typo in config.toml is said once (per file version: the read is cached), not silently ignored."""
    if os.environ.get(_WARNED_ENV) == str(path):
        return
    for line in unknown_key_warnings(settings, path):
        print(f"toolkit: warning: {line}", file=sys.stderr)
    os.environ[_WARNED_ENV] = str(path)


def unknown_key_warnings(settings: dict[str, Any], path: Path) -> list[str]:
    """One message per key of ``settings`` that is not a setting, with the closest one if any."""
    messages = []
    for key in sorted(set(settings) - set(DEFAULTS)):
        close = difflib.get_close_matches(key, list(DEFAULTS), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known settings: {', '.join(DEFAULTS)}"
        messages.append(f"{path}: unknown setting {key!r} is ignored; {hint}")
    return messages


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

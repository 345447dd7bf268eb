"""``toolkit.Image``: an immutable, chainable description of a container image.

Nothing is built here.  Each method returns a new ``Image`` with one more step; the image
builder turns the steps into a Containerfile, and the manifest records them as data.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from toolkit.exception import InvalidError

SUPPORTED_PYTHON = ("3.10", "3.11", "3.12", "3.13")
DEFAULT_PYTHON = "3.11"
_PY_RE = re.compile(r"^3\.\d{1,2}$")


def _python_version(version: str | None) -> str:
    version = version or DEFAULT_PYTHON
    if not _PY_RE.match(version) or version not in SUPPORTED_PYTHON:
        raise InvalidError(
            f"Unsupported python_version {version!r}; use one of {', '.join(SUPPORTED_PYTHON)} (e.g. '3.11')."
        )
    return version


def _strings(what: str, values: Sequence[Any]) -> list[str]:
    flat: list[str] = []
    for value in values:
        if isinstance(value, (list, tuple)):
            flat.extend(_strings(what, value))
        elif isinstance(value, str) and value.strip():
            flat.append(value.strip())
        else:
            raise InvalidError(f"{what} expects non-empty strings, got {value!r}.")
    return flat


@dataclass(frozen=True)
class Image:
    """A container image spec.  Start from ``Image.debian_slim()`` or ``Image.from_registry(ref)``."""

    base: dict[str, Any] = field(default_factory=lambda: {"kind": "debian_slim", "python_version": DEFAULT_PYTHON})
    steps: tuple[dict[str, Any], ...] = ()

    @staticmethod
    def debian_slim(python_version: str | None = None) -> Image:
        return Image({"kind": "debian_slim", "python_version": _python_version(python_version)})

    @staticmethod
    def from_registry(ref: str, *, add_python: str | None = None) -> Image:
        if not isinstance(ref, str) or not ref.strip() or any(c.isspace() for c in ref):
            raise InvalidError(f"Image.from_registry needs an image reference like 'python:3.11-slim', got {ref!r}.")
        py = _python_version(add_python) if add_python else None
        return Image({"kind": "registry", "ref": ref, "add_python": py})

    def _with(self, step: dict[str, Any]) -> Image:
        return replace(self, steps=self.steps + (step,))

    def pip_install(
        self, *packages: str | list[str], index_url: str | None = None,
        extra_index_url: str | None = None, pre: bool = False,
    ) -> Image:
        pkgs = _strings("pip_install", packages)
        if not pkgs:
            return self
        return self._with({"op": "pip_install", "packages": pkgs, "index_url": index_url,
                           "extra_index_url": extra_index_url, "pre": pre})

    def apt_install(self, *packages: str | list[str]) -> Image:
        pkgs = _strings("apt_install", packages)
        return self._with({"op": "apt_install", "packages": pkgs}) if pkgs else self

    def run_commands(self, *commands: str | list[str]) -> Image:
        cmds = _strings("run_commands", commands)
        return self._with({"op": "run_commands", "commands": cmds}) if cmds else self

    def env(self, vars: dict[str, str]) -> Image:
        for key, value in vars.items():
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key) or not isinstance(value, str):
                raise InvalidError(f"Image.env needs NAME=str pairs, got {key!r}={value!r}.")
        return self._with({"op": "env", "vars": dict(sorted(vars.items()))})

    def workdir(self, path: str) -> Image:
        if not path.startswith("/"):
            raise InvalidError(f"Image.workdir needs an absolute path, got {path!r} (e.g. '/app').")
        return self._with({"op": "workdir", "path": path})

    def add_local_file(self, local_path: str, remote_path: str) -> Image:
        _absolute("add_local_file", remote_path)
        return self._with({"op": "add_local_file", "local_path": str(local_path), "remote_path": remote_path})

    def add_local_dir(self, local_path: str, remote_path: str, *, ignore: Sequence[str] = ()) -> Image:
        _absolute("add_local_dir", remote_path)
        return self._with({"op": "add_local_dir", "local_path": str(local_path), "remote_path": remote_path,
                           "ignore": list(ignore)})

    def add_local_python_source(self, *modules: str, ignore: Sequence[str] = ()) -> Image:
        mods = _strings("add_local_python_source", modules)
        return self._with({"op": "add_local_python_source", "modules": mods, "ignore": list(ignore)})

    def to_dict(self) -> dict[str, Any]:
        data = {"base": self.base, "steps": list(self.steps)}
        data["spec_hash"] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        return data


def _absolute(op: str, remote_path: str) -> None:
    if not remote_path.startswith("/"):
        raise InvalidError(f"Image.{op} needs an absolute remote_path, got {remote_path!r} (e.g. '/app/data').")

"""The Python-package steps of an image spec as shell commands and the files they read.

pip steps run ``python3 -m pip`` (the base image's Python; ``PIP_BREAK_SYSTEM_PACKAGES`` is set,
so a distribution's externally-managed Python takes them too).  uv steps use a uv installed
from PyPI into ``/.uv`` (the hosted platform copies it from ``ghcr.io/astral-sh/uv``; a PyPI
wheel needs no second registry), installing into that same Python: ``uv pip install --python``,
and ``uv sync`` with the interpreter's prefix as the project environment and ``--inexact`` so
that toolkit's runtime packages, installed before, stay.

Files a step reads (requirements, pyproject.toml, uv.lock) are read while planning: a missing
one fails before any build, and their bytes are part of the image hash.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from toolkit.images.errors import ImageError, MissingLocalPathError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

UV_ROOT = "/.uv"
UV = f"{UV_ROOT}/bin/uv"
TARGET_PYTHON = "$(command -v python3)"  # the first python3 on PATH: the one the runtime uses


def installer_flags(step: Mapping[str, Any], *, uv: bool = False) -> list[str]:
    """--find-links/--index-url/--extra-index-url/pre/extra_options, as one installer takes them."""
    flags: list[str] = []
    for key, flag in (("find_links", "--find-links"), ("index_url", "--index-url"),
                      ("extra_index_url", "--extra-index-url")):
        if step.get(key):
            flags += [flag, shlex.quote(step[key])]
    if step.get("pre"):
        flags += ["--prerelease", "allow"] if uv else ["--pre"]
    if step.get("extra_options"):
        flags.append(step["extra_options"])  # raw, as the user wrote it for the installer's command line
    return flags


def pip_command(packages: Sequence[str], step: Mapping[str, Any], *, requirements: str | None = None) -> str:
    args = ["python3", "-m", "pip", "install"]
    if requirements:
        args += ["-r", requirements]
    return " ".join([*args, *(shlex.quote(p) for p in packages), *installer_flags(step)])


def install_uv_command(version: str | None) -> str:
    spec = f"uv=={version}" if version else "uv"
    return f"python3 -m pip install --target {UV_ROOT} {shlex.quote(spec)}"


def uv_pip_command(packages: Sequence[str], step: Mapping[str, Any], requirement_paths: Sequence[str]) -> str:
    args = [UV, "pip", "install", "--python", TARGET_PYTHON, "--break-system-packages", "--compile-bytecode",
            *installer_flags(step, uv=True)]
    for path in requirement_paths:
        args += ["--requirements", shlex.quote(path)]
    return " ".join([*args, *(shlex.quote(p) for p in packages)])


def uv_sync_command(step: Mapping[str, Any], has_lock: bool) -> str:
    args = [f"UV_PROJECT_ENVIRONMENT=$(python3 -c 'import sys; print(sys.prefix)') {UV}", "sync",
            f"--project={UV_ROOT}", "--no-install-workspace", "--inexact", "--compile-bytecode"]
    if has_lock and step.get("frozen", True):
        args.append("--frozen")
    args += [f"--group={shlex.quote(g)}" for g in step.get("groups") or []]
    args += [f"--extra={shlex.quote(e)}" for e in step.get("extras") or []]
    if step.get("extra_options"):
        args.append(step["extra_options"])
    return " ".join(args)


def read_toml(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise MissingLocalPathError(f"{what}: no such file {str(path)!r}; fix the path (relative paths are read "
                                    "from the directory you run toolkit in).")
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text())
        return data
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ImageError(f"{what}: {str(path)!r} is not valid TOML ({exc}); fix the file.") from None


def pyproject_dependencies(path: Path, optional: Sequence[str]) -> list[str]:
    """``[project.dependencies]`` plus the named ``[project.optional-dependencies]`` groups."""
    what = f"Image.pip_install_from_pyproject({str(path)!r})"
    project = read_toml(path, what).get("project") or {}
    if "dependencies" not in project:
        raise ImageError(f"{what}: the file has no [project.dependencies]; declare them there (PEP 621), or "
                         "for a Poetry project export a requirements file and use pip_install_from_requirements.")
    deps = list(project["dependencies"])
    groups = project.get("optional-dependencies") or {}
    for name in optional:
        if name not in groups:
            raise ImageError(f"{what}: no optional-dependencies group {name!r}; the file has "
                             f"{sorted(groups) or 'none'}.")
        deps += groups[name]
    return sorted(deps)


def check_uv_project(pyproject: Path) -> None:
    what = f"Image.uv_sync({str(pyproject.parent)!r})"
    config = read_toml(pyproject, what)
    if "workspace" in ((config.get("tool") or {}).get("uv") or {}):
        raise ImageError(f"{what}: uv workspaces are not supported (as on the hosted platform); sync the member "
                         "project's directory instead.")

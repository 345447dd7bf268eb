"""``toolkit.Image``: an immutable, chainable description of a container image.

Nothing is built here.  Each method checks its arguments and returns a new ``Image`` with one
more step, recorded as plain data: the manifest carries the steps, the image builder turns them
into a Containerfile (``toolkit.images.containerfile``; the mapping is in docs/images.md), and
their JSON is the spec hash that groups the functions sharing an image.

Names, parameters and defaults are the hosted platform's.  Where toolkit differs it says so in the
method's docstring, warns (`NotSupportedWarning`) for an option it accepts without effect, and
raises `NotSupportedError` naming the alternative for one it cannot honour.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from toolkit.construction import dataclass_instance, refuse_construction
from toolkit.exception import InvalidError, NotSupportedError, NotSupportedWarning
from toolkit.handles import Clientless
from toolkit.unsupported import UnsupportedProperty

SUPPORTED_PYTHON = ("3.10", "3.11", "3.12", "3.13")
DEFAULT_PYTHON = "3.11"
IMAGE_ENV = "TOOLKIT_IMAGE_HASH"  # set in every image toolkit builds: the spec hash it was built from
_PY_RE = re.compile(r"^3\.\d{1,2}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

IgnoreSpec = Sequence[str] | Callable[[Path], bool]
_F = TypeVar("_F", bound=Callable[..., Any])


def _not_supported(reason: str) -> Callable[[_F], _F]:
    """Marks a platform method toolkit keeps only to fail clearly (the parity table reads the mark)."""
    def mark(fn: _F) -> _F:
        fn.__toolkit_not_supported__ = reason  # type: ignore[attr-defined]
        return fn
    return mark


def _python_version(version: str | None) -> str:
    version = version or DEFAULT_PYTHON
    if not isinstance(version, str) or not _PY_RE.match(version) or version not in SUPPORTED_PYTHON:
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


def _packages(method: str, packages: Sequence[Any]) -> list[str]:
    pkgs = _strings(f"Image.{method}", packages)
    for pkg in pkgs:
        if pkg.startswith("-"):
            raise InvalidError(f"Image.{method}({pkg!r}): the package list cannot carry options; "
                               f"pass them as extra_options={pkg!r}.")
    return sorted(pkgs)  # order does not matter to an installer; sorted, it does not change the hash


def _string_list(method: str, name: str, value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InvalidError(f"Image.{method}({name}={value!r}) must be a list of strings, e.g. {name}=['a', 'b'].")
    return list(value)


def _optional_str(method: str, name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidError(f"Image.{method}({name}={value!r}) must be a string or None.")
    return value or None


def _env_vars(method: str, values: Mapping[str, str | None] | None) -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidError(f"Image.{method}(env={values!r}) must be a dict of NAME: str.")
    for key, value in values.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key) or not isinstance(value, (str, type(None))):
            raise InvalidError(f"Image.{method} needs env NAME=str pairs, got {key!r}={value!r}; "
                               "names are letters, digits and _, values are strings.")
    return {k: v for k, v in sorted(values.items()) if v is not None}


def _build_options(method: str, *, env: Mapping[str, str | None] | None = None,
                   secrets: Collection[Any] | None = None, gpu: Any = None, force_build: bool = False,
                   volumes: Mapping[Any, Any] | None = None) -> dict[str, Any]:
    """The keywords every build step shares, as step fields (only those that are set)."""
    if secrets:
        raise NotSupportedError(f"Image.{method}(secrets=...): toolkit build steps cannot read secrets; pass "
                                "build-time values with env={...} (they are written into the Containerfile), or "
                                "read the secret when the function runs.")
    if volumes:
        raise NotSupportedError(f"Image.{method}(volumes=...): toolkit build steps cannot mount volumes. Instead, "
                                "download into the image in the step itself, or read the volume when the function "
                                "runs.")
    if gpu:
        warnings.warn(f"Image.{method}(gpu={gpu!r}) has no effect in toolkit: images are built on the builder's "
                      "CPU (CUDA wheels install without a GPU)", NotSupportedWarning, stacklevel=3)
    options: dict[str, Any] = {}
    if env:
        options["env"] = _env_vars(method, env)
    if force_build:
        options["force_build"] = True
    return options


def _no_effect(method: str, reason: str, **given: Any) -> None:
    """One `NotSupportedWarning` per option that was set but that toolkit cannot honour."""
    for name, value in given.items():
        if value:
            warnings.warn(f"Image.{method}({name}=...) has no effect in toolkit: {reason}", NotSupportedWarning,
                          stacklevel=3)


def _installer_flags(method: str, find_links: str | None, index_url: str | None, extra_index_url: str | None,
                     pre: bool, extra_options: str) -> dict[str, Any]:
    if not isinstance(extra_options, str):
        raise InvalidError(f"Image.{method}(extra_options={extra_options!r}) must be one string, e.g. "
                           "'--no-build-isolation'.")
    return {"find_links": _optional_str(method, "find_links", find_links),
            "index_url": _optional_str(method, "index_url", index_url),
            "extra_index_url": _optional_str(method, "extra_index_url", extra_index_url),
            "pre": bool(pre), "extra_options": extra_options.strip()}


def _uv_version(method: str, version: str | None) -> str | None:
    if version is not None and not re.match(r"^\d+(\.\d+){0,2}$", str(version)):
        raise InvalidError(f"Image.{method}(uv_version={version!r}) must be a uv release like '0.8.4'.")
    return version


def _absolute(method: str, remote_path: str | PurePosixPath) -> str:
    path = str(remote_path)
    if not PurePosixPath(path).is_absolute():
        raise InvalidError(f"Image.{method} needs an absolute remote_path, got {path!r} (e.g. '/app/data').")
    return path


def _local_path(local_path: str | Path) -> str:
    return os.path.expanduser(str(local_path))


def _ignore_patterns(method: str, local_dir: str, ignore: IgnoreSpec) -> list[str]:
    """Glob patterns to leave out.  A predicate (the hosted platform allows one) is applied now, to the
    directory as it is, and recorded as the exact relative paths it rejected: the manifest holds data."""
    if isinstance(ignore, str):
        raise InvalidError(f"Image.{method}(ignore={ignore!r}) must be a list of patterns, e.g. ignore=[{ignore!r}].")
    if not callable(ignore):
        return _strings(f"Image.{method}(ignore=...)", list(ignore))
    import glob

    rejected: list[str] = []
    root = Path(local_dir)
    # A matcher with "!" re-includes (FilePatternMatcher) may keep a file inside an ignored directory.
    prune = getattr(ignore, "can_prune_directories", lambda: True)()
    for current, dirs, names in os.walk(root):
        base = Path(current).relative_to(root)
        pruned = [d for d in sorted(dirs) if prune and ignore(base / d)]
        rejected.extend(glob.escape((base / d).as_posix()) for d in pruned)
        dirs[:] = [d for d in dirs if d not in pruned]
        rejected.extend(glob.escape((base / n).as_posix()) for n in sorted(names) if ignore(base / n))
    return rejected


@dataclass(frozen=True, init=False)
class Image(Clientless):
    """A container image spec.  Start from ``Image.debian_slim()``, ``Image.from_registry(tag)`` or
    ``Image.from_dockerfile(path)``, then chain steps; each call returns a new image."""

    base: dict[str, Any] = field(default_factory=lambda: {"kind": "debian_slim", "python_version": DEFAULT_PYTHON})
    steps: tuple[dict[str, Any], ...] = ()
    # errors that ``imports()`` blocks kept instead of raising; not part of the spec or its equality
    import_errors: list[BaseException] = field(default_factory=list, init=False, compare=False, repr=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # the platform's signature (toolkit.construction)
        refuse_construction("Image", "Image.debian_slim(), Image.from_registry(tag) or Image.from_dockerfile(path), "
                                     "and each step returns a new one (image.pip_install(...))")

    @classmethod
    def _make(cls, base: dict[str, Any], steps: tuple[dict[str, Any], ...] = ()) -> Image:
        return dataclass_instance(cls, base=base, steps=steps)

    # -- bases -----------------------------------------------------------------------------------

    @staticmethod
    def debian_slim(python_version: str | None = None, force_build: bool = False) -> Image:
        """The official ``python:<version>-slim-bookworm`` image (default Python 3.11)."""
        return Image._make(_with_force({"kind": "debian_slim", "python_version": _python_version(python_version)},
                                 force_build))

    @staticmethod
    def from_registry(tag: str, secret: Any = None, *, setup_dockerfile_commands: Sequence[str] = (),
                      force_build: bool = False, add_python: str | None = None, **kwargs: Any) -> Image:
        """Any image a registry serves, e.g. ``nvidia/cuda:12.4.1-runtime-ubuntu22.04``.  ``add_python``
        makes sure that Python version is there (toolkit installs the distribution's python3 when the base
        lacks one).  ``secret`` is accepted for parity: toolkit pulls with the builder's own login
        (``podman login``, ECR credentials)."""
        _no_effect("from_registry", "the builder pulls with its own registry login (podman login, ECR)",
                   secret=secret)
        if kwargs:
            raise InvalidError(f"Image.from_registry got an unknown option {sorted(kwargs)[0]!r}; options are secret, "
                               "setup_dockerfile_commands, force_build and add_python.")
        if not isinstance(tag, str) or not tag.strip() or any(c.isspace() for c in tag):
            raise InvalidError(f"Image.from_registry needs an image reference like 'python:3.11-slim', got {tag!r}.")
        py = _python_version(add_python) if add_python else None
        setup = _strings("Image.from_registry(setup_dockerfile_commands=...)", list(setup_dockerfile_commands))
        base: dict[str, Any] = {"kind": "registry", "ref": tag, "add_python": py}
        if setup:
            base["setup"] = setup
        return Image._make(_with_force(base, force_build))

    from_aws_ecr = from_registry
    from_gcp_artifact_registry = from_registry

    @staticmethod
    @_not_supported("an empty base cannot run toolkit's Python runtime: use debian_slim or from_registry")
    def from_scratch(force_build: bool = False) -> Image:
        raise NotSupportedError("Image.from_scratch is not supported by toolkit: the functions' runtime needs Python; "
                                "start from Image.debian_slim() or Image.from_registry(..., add_python='3.11').")

    @staticmethod
    def from_dockerfile(path: str | Path, *, force_build: bool = False, context_dir: str | Path | None = None,
                        ignore: IgnoreSpec = (), build_args: Mapping[str, str] | None = None,
                        registry_secret: Any = None, secrets: Collection[Any] | None = None,
                        env: Mapping[str, str | None] | None = None, gpu: str | None = None,
                        add_python: str | None = None) -> Image:
        """Your Dockerfile is the base: its instructions come first, toolkit's layers follow in its last
        stage.  COPY/ADD read from ``context_dir`` (default: the Dockerfile's directory)."""
        _build_options("from_dockerfile", secrets=secrets, gpu=gpu)
        _no_effect("from_dockerfile", "the builder pulls with its own registry login (podman login, ECR)",
                   registry_secret=registry_secret)
        args = _env_vars("from_dockerfile(build_args=...)", build_args)
        context = _local_path(context_dir) if context_dir is not None else None
        base: dict[str, Any] = {"kind": "dockerfile", "path": _local_path(path), "context_dir": context,
                                "ignore": _ignore_patterns("from_dockerfile", context or ".", ignore),
                                "build_args": args, "add_python": _python_version(add_python) if add_python else None}
        if env:
            base["env"] = _env_vars("from_dockerfile", env)
        return Image._make(_with_force(base, force_build))

    @staticmethod
    @_not_supported("conda environments: use pip_install/uv_pip_install, or a conda base with run_commands")
    def micromamba(python_version: str | None = None, force_build: bool = False) -> Image:
        raise NotSupportedError("Image.micromamba is not supported by toolkit; use Image.debian_slim(python_version=...) "
                                "with pip_install/uv_pip_install, or Image.from_registry('mambaorg/micromamba:<tag>', "
                                "add_python=...) with run_commands('micromamba install -y -n base ...').")

    def _with(self, step: dict[str, Any]) -> Image:
        return type(self)._make(self.base, self.steps + (step,))

    # -- Python packages ---------------------------------------------------------------------------

    def pip_install(self, *packages: str | list[str], find_links: str | None = None, index_url: str | None = None,
                    extra_index_url: str | None = None, pre: bool = False, extra_options: str = "",
                    force_build: bool = False, env: dict[str, str | None] | None = None,
                    secrets: Collection[Any] | None = None, gpu: str | None = None) -> Image:
        """``python -m pip install`` the packages (no-op without packages)."""
        pkgs = _packages("pip_install", packages)
        flags = _installer_flags("pip_install", find_links, index_url, extra_index_url, pre, extra_options)
        options = _build_options("pip_install", env=env, secrets=secrets, gpu=gpu, force_build=force_build)
        return self._with({"op": "pip_install", "packages": pkgs, **flags, **options}) if pkgs else self

    def pip_install_from_requirements(self, requirements_txt: str, find_links: str | None = None, *,
                                      index_url: str | None = None, extra_index_url: str | None = None,
                                      pre: bool = False, extra_options: str = "", force_build: bool = False,
                                      env: dict[str, str | None] | None = None,
                                      secrets: Collection[Any] | None = None, gpu: str | None = None) -> Image:
        """``pip install -r`` a local requirements file (copied into the image; its contents are hashed)."""
        flags = _installer_flags("pip_install_from_requirements", find_links, index_url, extra_index_url, pre,
                                 extra_options)
        options = _build_options("pip_install_from_requirements", env=env, secrets=secrets, gpu=gpu,
                                 force_build=force_build)
        return self._with({"op": "pip_install_from_requirements", "requirements_txt": _local_path(requirements_txt),
                           **flags, **options})

    def pip_install_from_pyproject(self, pyproject_toml: str, optional_dependencies: Sequence[str] = (), *,
                                   find_links: str | None = None, index_url: str | None = None,
                                   extra_index_url: str | None = None, pre: bool = False, extra_options: str = "",
                                   force_build: bool = False, env: dict[str, str | None] | None = None,
                                   secrets: Collection[Any] | None = None, gpu: str | None = None) -> Image:
        """``pip install`` the ``[project.dependencies]`` of a local pyproject.toml (plus the named
        ``[project.optional-dependencies]`` groups), read when the image is planned."""
        flags = _installer_flags("pip_install_from_pyproject", find_links, index_url, extra_index_url, pre,
                                 extra_options)
        options = _build_options("pip_install_from_pyproject", env=env, secrets=secrets, gpu=gpu,
                                 force_build=force_build)
        optional = _string_list("pip_install_from_pyproject", "optional_dependencies", optional_dependencies)
        return self._with({"op": "pip_install_from_pyproject", "pyproject_toml": _local_path(pyproject_toml),
                           "optional_dependencies": optional, **flags, **options})

    def uv_pip_install(self, *packages: str | list[str], requirements: list[str] | None = None,
                       find_links: str | None = None, index_url: str | None = None,
                       extra_index_url: str | None = None, pre: bool = False, extra_options: str = "",
                       force_build: bool = False, uv_version: str | None = None,
                       env: dict[str, str | None] | None = None, secrets: Collection[Any] | None = None,
                       gpu: str | None = None) -> Image:
        """``uv pip install`` into the image's Python.  uv itself comes from PyPI (into ``/.uv``), not
        from the ``ghcr.io/astral-sh/uv`` image, so builds need no second registry."""
        pkgs = _packages("uv_pip_install", packages)
        reqs = [_local_path(r) for r in _string_list("uv_pip_install", "requirements", requirements or [])]
        flags = _installer_flags("uv_pip_install", find_links, index_url, extra_index_url, pre, extra_options)
        options = _build_options("uv_pip_install", env=env, secrets=secrets, gpu=gpu, force_build=force_build)
        if not pkgs and not reqs:
            return self
        return self._with({"op": "uv_pip_install", "packages": pkgs, "requirements": reqs,
                           "uv_version": _uv_version("uv_pip_install", uv_version), **flags, **options})

    def uv_sync(self, uv_project_dir: str = "./", *, force_build: bool = False, groups: list[str] | None = None,
                extras: list[str] | None = None, frozen: bool = True, extra_options: str = "",
                uv_version: str | None = None, env: dict[str, str | None] | None = None,
                secrets: Collection[Any] | None = None, gpu: str | None = None) -> Image:
        """``uv sync`` the dependencies of a local uv project (its pyproject.toml and uv.lock are copied
        and hashed), without the project itself.  toolkit syncs into the image's Python with
        ``--inexact``, so toolkit's runtime packages stay installed."""
        options = _build_options("uv_sync", env=env, secrets=secrets, gpu=gpu, force_build=force_build)
        if not isinstance(extra_options, str):
            raise InvalidError(f"Image.uv_sync(extra_options={extra_options!r}) must be one string.")
        return self._with({"op": "uv_sync", "uv_project_dir": _local_path(uv_project_dir),
                           "groups": _string_list("uv_sync", "groups", groups or []),
                           "extras": _string_list("uv_sync", "extras", extras or []), "frozen": bool(frozen),
                           "extra_options": extra_options.strip(), "uv_version": _uv_version("uv_sync", uv_version),
                           **options})

    @_not_supported("Poetry: export a requirements file and use pip_install_from_requirements")
    def poetry_install_from_file(self, poetry_pyproject_toml: str, poetry_lockfile: str | None = None, *,
                                 ignore_lockfile: bool = False, force_build: bool = False,
                                 with_: Sequence[str] = (), without: Sequence[str] = (), only: Sequence[str] = (),
                                 poetry_version: str | None = "latest", old_installer: bool = False,
                                 env: dict[str, str | None] | None = None, secrets: Collection[Any] | None = None,
                                 gpu: str | None = None) -> Image:
        raise NotSupportedError("Image.poetry_install_from_file is not supported by toolkit; export the lock "
                                "(poetry export -o requirements.txt) and use pip_install_from_requirements, or "
                                "declare [project.dependencies] and use pip_install_from_pyproject.")

    @_not_supported("conda packages: use pip_install/uv_pip_install, or call micromamba in run_commands")
    def micromamba_install(self, *packages: str | list[str], spec_file: str | None = None,
                           channels: Sequence[str] = (), force_build: bool = False,
                           env: dict[str, str | None] | None = None, secrets: Collection[Any] | None = None,
                           gpu: str | None = None) -> Image:
        raise NotSupportedError("Image.micromamba_install is not supported by toolkit; install the packages with "
                                "pip_install/uv_pip_install, or start from a conda image (from_registry) and call "
                                "micromamba in run_commands.")

    @_not_supported("private git repositories: pip_install('git+https://...') with credentials in env=")
    def pip_install_private_repos(self, *repositories: str, git_user: str, find_links: str | None = None,
                                  index_url: str | None = None, extra_index_url: str | None = None,
                                  pre: bool = False, extra_options: str = "", gpu: str | None = None,
                                  env: dict[str, str | None] | None = None, secrets: Collection[Any] | None = None,
                                  force_build: bool = False) -> Image:
        raise NotSupportedError("Image.pip_install_private_repos is not supported by toolkit; use "
                                "pip_install('git+https://github.com/org/repo@ref') with the token passed in "
                                "env={...}, or vendor the package with add_local_python_source.")

    # -- system steps ----------------------------------------------------------------------------

    def apt_install(self, *packages: str | list[str], force_build: bool = False,
                    env: dict[str, str | None] | None = None, secrets: Collection[Any] | None = None,
                    gpu: str | None = None) -> Image:
        """``apt-get install -y --no-install-recommends`` (Debian/Ubuntu bases)."""
        pkgs = _packages("apt_install", packages)
        options = _build_options("apt_install", env=env, secrets=secrets, gpu=gpu, force_build=force_build)
        return self._with({"op": "apt_install", "packages": pkgs, **options}) if pkgs else self

    def run_commands(self, *commands: str | list[str], env: dict[str, str | None] | None = None,
                     secrets: Collection[Any] | None = None, volumes: dict[Any, Any] | None = None,
                     gpu: str | None = None, force_build: bool = False) -> Image:
        """One ``RUN`` per shell command, in order."""
        cmds = _strings("Image.run_commands", commands)
        options = _build_options("run_commands", env=env, secrets=secrets, gpu=gpu, force_build=force_build,
                                 volumes=volumes)
        return self._with({"op": "run_commands", "commands": cmds, **options}) if cmds else self

    def run_function(self, raw_f: Callable[..., Any], *, env: dict[str, str | None] | None = None,
                     secrets: Collection[Any] | None = None, volumes: dict[Any, Any] | None = None,
                     network_file_systems: dict[Any, Any] | None = None, gpu: str | list[str] | None = None,
                     cpu: float | None = None, memory: int | None = None, timeout: int = 3600,
                     cloud: str | None = None, region: str | Sequence[str] | None = None,
                     force_build: bool = False, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
                     include_source: bool = True) -> Image:
        """Run ``raw_f(*args, **kwargs)`` while the image builds; what it writes stays in the image.

        The function travels as a script: its source, the same-module functions it calls, the imports
        and plain constants it uses (``toolkit.build_function``).  That script and the JSON arguments
        are the step's hash.  toolkit differs in two ways: arguments must be JSON values, and
        ``cpu``/``memory``/``cloud``/``region`` have no effect (the builder's machine runs the step)."""
        from toolkit.build_function import build_script

        if network_file_systems:
            raise NotSupportedError("Image.run_function(network_file_systems=...) is not supported by toolkit: the "
                                    "build step mounts nothing. Instead, download the files in the function itself "
                                    "(what it writes stays in the image).")
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
            raise InvalidError(f"Image.run_function(timeout={timeout!r}) must be a positive number of seconds.")
        options = _build_options("run_function", env=env, secrets=secrets, gpu=gpu, force_build=force_build,
                                 volumes=volumes)
        _no_effect("run_function", "the step runs on the image builder's machine", cpu=cpu, memory=memory,
                   cloud=cloud, region=region)
        script = build_script(raw_f, list(args), dict(kwargs or {}))
        return self._with({"op": "run_function", "function": getattr(raw_f, "__qualname__", "?"),
                           "script": script, "timeout": timeout, **options})

    def dockerfile_commands(self, *dockerfile_commands: str | list[str], context_files: dict[str, str] | None = None,
                            env: dict[str, str | None] | None = None, secrets: Collection[Any] | None = None,
                            gpu: str | None = None, context_dir: str | Path | None = None,
                            force_build: bool = False, ignore: IgnoreSpec = (),
                            build_args: dict[str, str] | None = None) -> Image:
        """Raw Containerfile instructions, inserted as written (no ``FROM``: the image so far is the
        base).  ``COPY``/``ADD`` read from ``context_files`` (a path in the build context -> a local
        file) or else from ``context_dir`` (default: the directory you run toolkit in), minus
        ``ignore``.  ``env`` and ``build_args`` become ``ARG``s (build-time only)."""
        cmds = _strings("Image.dockerfile_commands", dockerfile_commands)
        for line in cmds:
            if line.split(None, 1)[0].upper() == "FROM":
                raise InvalidError(f"Image.dockerfile_commands({line!r}): FROM is not allowed here; start from "
                                   "Image.from_registry(...) or Image.from_dockerfile(...) instead.")
        options = _build_options("dockerfile_commands", env=env, secrets=secrets, gpu=gpu, force_build=force_build)
        files = {str(k).lstrip("/"): _local_path(v) for k, v in (context_files or {}).items()}
        directory = _local_path(context_dir) if context_dir is not None else None
        return self._with({"op": "dockerfile_commands", "commands": cmds, "context_files": files,
                           "context_dir": directory,
                           "ignore": _ignore_patterns("dockerfile_commands", directory or ".", ignore),
                           "build_args": _env_vars("dockerfile_commands(build_args=...)", build_args), **options})

    # -- container settings ------------------------------------------------------------------------

    def entrypoint(self, entrypoint_commands: list[str]) -> Image:
        """A command that wraps toolkit's runtime: the container runs ``[*entrypoint_commands,
        <toolkit entrypoint>, ...]``, so a wrapper must end with ``exec "$@"``.  ``[]`` (the common
        use: drop a base image's entrypoint) leaves toolkit's entrypoint alone."""
        return self._with({"op": "entrypoint", "commands": _string_list("entrypoint", "entrypoint_commands",
                                                                        entrypoint_commands)})

    def cmd(self, cmd: list[str]) -> Image:
        """The container's default command.  As on the hosted platform it has no effect on functions
        (toolkit's runtime is what runs); it is recorded in the image (label ``dev.toolkit.cmd``)."""
        return self._with({"op": "cmd", "commands": _string_list("cmd", "cmd", cmd)})

    def shell(self, shell_commands: list[str]) -> Image:
        """``SHELL`` for the RUN steps that follow (podman honours it in docker-format builds)."""
        return self._with({"op": "shell", "commands": _string_list("shell", "shell_commands", shell_commands)})

    def env(self, vars: dict[str, str]) -> Image:
        """``ENV`` for later build steps and for the functions."""
        if not isinstance(vars, Mapping):
            raise InvalidError(f"Image.env needs a dict of NAME: str, got {vars!r}.")
        for key, value in vars.items():
            if not isinstance(key, str) or not _ENV_NAME.match(key) or not isinstance(value, str):
                raise InvalidError(f"Image.env needs NAME=str pairs, got {key!r}={value!r}.")
        return self._with({"op": "env", "vars": dict(sorted(vars.items()))})

    def workdir(self, path: str | PurePosixPath) -> Image:
        """``WORKDIR`` for later build steps, and the functions' working directory."""
        path = str(path)
        if not path.startswith("/"):
            raise InvalidError(f"Image.workdir needs an absolute path, got {path!r} (e.g. '/app').")
        return self._with({"op": "workdir", "path": path})

    # -- local files -----------------------------------------------------------------------------

    def add_local_file(self, local_path: str | Path, remote_path: str, *, copy: bool = False) -> Image:
        """Copy a local file to ``remote_path`` (a trailing ``/`` keeps the file's name).  toolkit always
        copies (Lambda cannot mount files); ``copy=False`` files go in a late layer unless a later build
        step needs them."""
        remote = _absolute("add_local_file", remote_path)
        if remote.endswith("/"):
            remote += Path(str(local_path)).name
        return self._with(_with_copy({"op": "add_local_file", "local_path": _local_path(local_path),
                                      "remote_path": remote}, copy))

    def add_local_dir(self, local_path: str | Path, remote_path: str, *, copy: bool = False,
                      ignore: IgnoreSpec = ()) -> Image:
        """Copy a local directory's contents to ``remote_path``, leaving out ``ignore`` (glob patterns,
        or a predicate on each relative path, applied when this is called)."""
        local = _local_path(local_path)
        return self._with(_with_copy({"op": "add_local_dir", "local_path": local,
                                      "remote_path": _absolute("add_local_dir", remote_path),
                                      "ignore": _ignore_patterns("add_local_dir", local, ignore)}, copy))

    def add_local_python_source(self, *modules: str, copy: bool = False, ignore: IgnoreSpec | None = None) -> Image:
        """Copy local modules/packages (found on ``sys.path``, not imported) next to the app's code, which
        is on the functions' ``sys.path``.  Only ``.py`` files unless ``ignore`` is given, as on the platform."""
        mods = _strings("Image.add_local_python_source", modules)
        step: dict[str, Any] = {"op": "add_local_python_source", "modules": mods, "ignore": []}
        if ignore is None:
            step["python_only"] = True
        else:
            if callable(ignore):
                raise InvalidError("Image.add_local_python_source(ignore=<function>): toolkit takes glob patterns "
                                   "here, e.g. ignore=['*.json']; use add_local_dir for a predicate.")
            step["ignore"] = _ignore_patterns("add_local_python_source", ".", ignore)
        return self._with(_with_copy(step, copy))

    # -- composition -----------------------------------------------------------------------------

    def pipe(self, func: Callable[..., Image], *args: Any, **kwargs: Any) -> Image:
        """``func(self, *args, **kwargs)``: reusable recipes in the chain."""
        result = func(self, *args, **kwargs)
        if not isinstance(result, Image):
            raise InvalidError(f"Image.pipe({getattr(func, '__name__', func)!r}) must return a toolkit.Image, "
                               f"got {type(result).__name__}.")
        return result

    @contextlib.contextmanager
    def imports(self) -> Iterator[None]:
        """``with image.imports(): import torch`` — imports of packages only this image has.

        Inside a container built from this image the imports are real and a failure raises.
        Anywhere else (a local worker in your own environment, another image) a failure is kept on
        ``image.import_errors`` instead of raised, and any exception other than ImportError also warns.
        """
        try:
            yield
        except Exception as exc:
            if os.environ.get(IMAGE_ENV) == self.spec_hash:
                raise
            self.import_errors.append(exc)
            if not isinstance(exc, ImportError):
                warnings.warn(f"caught a non-ImportError exception in an image.imports() block: {exc!r}",
                              stacklevel=3)

    # -- data ------------------------------------------------------------------------------------

    @property
    def spec_hash(self) -> str:
        return hashlib.sha256(json.dumps({"base": self.base, "steps": list(self.steps)},
                                         sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "steps": list(self.steps), "spec_hash": self.spec_hash}

    # -- the platform's object members (toolkit.unsupported for the refusals) --------------------

    @property
    def object_id(self) -> str:
        """``im-<spec hash>``: an image is identified by its spec (the hash names its local environment
        and its container tag), not by a service-issued ID."""
        return f"im-{self.spec_hash[:24]}"

    def hydrate(self, client: Any = None) -> Image:
        """The image itself: a spec needs no lookup (it is built by `toolkit build`/`deploy` or `toolkit serve`)."""
        return self

    def build(self, app: Any = None) -> Image:
        """Build this image's local environment now: the uv environment ``toolkit serve``/``run`` workers
        use for an image with Python packages (``local_env = "image"``), cached by its spec, so the first
        call is not the slow one.  The container image is built by ``toolkit build``/``deploy``."""
        for build in _ENVIRONMENT_BUILDER:
            build(self)
        return self

    @staticmethod
    @_not_supported("toolkit images are specs, not service objects with IDs: use from_registry(tag)")
    def from_id(image_id: str, client: Any = None) -> Image:
        raise NotSupportedError(f"Image.from_id({image_id!r}) is not supported by toolkit: images are specs, "
                                "not stored objects. Instead, push a built image and use "
                                "Image.from_registry('<registry>/<repo>:<tag>').")

    @staticmethod
    @_not_supported("no service stores published images: use from_registry(tag)")
    def from_name(name: str, *, environment_name: str | None = None, client: Any = None) -> Image:
        raise NotSupportedError(f"Image.from_name({name!r}) is not supported by toolkit: no service stores "
                                "published images. Instead, use Image.from_registry('<registry>/<repo>:<tag>') "
                                "with an image `toolkit build --registry` pushed.")

    @_not_supported("no service stores published images: push with `toolkit build --registry`")
    def publish(self, name: str, *, environment_name: str | None = None,
                experimental_options: dict[str, Any] | None = None, client: Any = None) -> None:
        raise NotSupportedError(f"Image.publish({name!r}) is not supported by toolkit: no service stores "
                                "published images. Instead, run `toolkit build app.py --registry HOST` and use "
                                "Image.from_registry(tag) where you need it.")

    logs = UnsupportedProperty("Image.logs", "build output is printed by the build itself",
                               "read the output of `toolkit build app.py` (or `toolkit serve`)")

    @_not_supported("toolkit has no hosted dashboard")
    def get_dashboard_url(self) -> str:
        raise NotSupportedError("Image.get_dashboard_url() is not supported by toolkit: it has no hosted "
                                "dashboard. Instead, `toolkit build app.py` prints each image and digest.")


# What Image.build runs: installed by toolkit.image_environment (which `import toolkit` loads), so
# that this module imports nothing of the environment builders, which import images back.
_ENVIRONMENT_BUILDER: list[Callable[[Image], None]] = []


def install_environment_builder(build: Callable[[Image], None]) -> None:
    _ENVIRONMENT_BUILDER[:] = [build]


def _with_force(base: dict[str, Any], force_build: bool) -> dict[str, Any]:
    return {**base, "force_build": True} if force_build else base


def _with_copy(step: dict[str, Any], copy: bool) -> dict[str, Any]:
    return {**step, "copy": True} if copy else step

"""Per-image local environments: an image's Python steps, installed with uv into a virtual
environment cached by their hash under ``$TOOLKIT_HOME/envs``.

Local workers of `toolkit serve` / `toolkit run` then import the image's packages, not whatever
the user's own environment has, and an image's pins are resolved together with the few
packages toolkit's worker side needs (``WORKER_REQUIREMENTS``, lower bounds only), never
against toolkit's own pins.  toolkit's ``toolkit`` and ``runtime`` sources are linked into the
environment (a ``.pth`` file), not installed, so nothing of the CLI's dependencies comes along.

The environment's key hashes what the install reads: the Python steps' packages and flags,
the bytes of their requirements / pyproject / uv.lock files, the worker requirements and the
interpreter.  An unchanged key reuses the environment (no uv call at all); a changed one
builds a new directory beside it, renamed into place only once complete, under a file lock so
that two serves starting together build once.

apt, shell, run_function and raw Containerfile steps cannot run on the host: they are listed in
``LocalEnv.skipped`` for the caller to say so once.  An image whose base is a registry image or
a Dockerfile installs only its Python steps here.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from toolkit.images import python_steps as py
from toolkit.images import runtime_layer as rt
from toolkit.images.errors import ImageError
from toolkit.progress import Display

ENV_VERSION = 1
# What the worker side (`toolkit.local.worker`, `toolkit.serve.web_worker`) imports on demand: the
# image's runtime requirements without the AWS-only ones (boto3, mangum), plus httptools for serve's
# worker protocol (`toolkit.serve.uvicorn_bridge`).  Lower bounds, resolved with the image's pins.
WORKER_REQUIREMENTS = (*(r for r in rt.REQUIREMENTS if not r.startswith(("boto3", "mangum"))), "httptools>=0.6")
# What a worker needs beyond WORKER_REQUIREMENTS for a function with CloudBucketMounts: it syncs
# the bucket itself (`runtime.volumes.buckets`, boto3).  Only those functions' environments get it
# (boto3 and botocore are about 100 MB installed); the image's own pin of boto3 wins.
BUCKET_MOUNT_REQUIREMENTS = ("boto3>=1.34",)
PYTHON_OPS = frozenset({"pip_install", "uv_pip_install", "pip_install_from_requirements",
                        "pip_install_from_pyproject", "uv_sync"})
HOST_ONLY_OPS = frozenset({"apt_install", "run_commands", "run_function", "dockerfile_commands", "shell"})
READY = ".toolkit-env.json"
Log = Callable[[str], None]


@dataclass(frozen=True)
class UvExport:
    """A ``uv_sync`` project with a lock: its locked versions, exported by uv at build time."""

    project: Path
    extras: tuple[str, ...]
    groups: tuple[str, ...]


@dataclass(frozen=True)
class EnvPlan:
    """What one image's environment installs, and its cache key."""

    requirements: tuple[str, ...]
    requirement_files: tuple[Path, ...]
    flags: tuple[str, ...]
    skipped: tuple[str, ...]
    exports: tuple[UvExport, ...] = ()
    key: str = ""


@dataclass(frozen=True)
class LocalEnv:
    path: Path
    plan: EnvPlan
    built: bool  # False: reused from the cache

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


@dataclass
class _Collector:
    root: Path
    requirements: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    exports: list[UvExport] = field(default_factory=list)


def plan_env(spec: Mapping[str, Any], root: Path) -> EnvPlan:
    """The Python part of an image spec (``Image.to_dict()`` / the manifest's ``image``)."""
    found = _Collector(root)
    base = spec.get("base") or {}
    if base.get("kind") in ("registry", "dockerfile"):
        found.skipped.append(f"the {base['kind']} base ({base.get('ref') or base.get('path')}): only its "
                             "Python steps are installed locally")
    for step in spec.get("steps") or []:
        if step.get("op") in PYTHON_OPS:
            _collect(found, step)
        elif step.get("op") in HOST_ONLY_OPS:
            found.skipped.append(_describe(step))
    requirements = [*found.requirements, *(spec.get("worker_requirements") or ())]
    plan = EnvPlan(tuple(requirements), tuple(found.files), tuple(dict.fromkeys(found.flags)),
                   tuple(found.skipped), tuple(found.exports))
    return replace(plan, key=_key(plan))


def _collect(found: _Collector, step: Mapping[str, Any]) -> None:
    op = step["op"]
    if op in ("pip_install", "uv_pip_install"):
        found.requirements += step.get("packages") or []
        found.files += [found.root / r for r in step.get("requirements") or []]
    elif op == "pip_install_from_requirements":
        found.files.append(found.root / step["requirements_txt"])
    elif op == "pip_install_from_pyproject":
        found.requirements += py.pyproject_dependencies(found.root / step["pyproject_toml"],
                                                        step.get("optional_dependencies") or [])
    else:
        _collect_uv_sync(found, step)
    found.flags += _uv_flags(step)


def _collect_uv_sync(found: _Collector, step: Mapping[str, Any]) -> None:
    """With a uv.lock (and ``frozen``, the default), the locked versions, as the image installs
    them; without one, the declared dependencies."""
    project = found.root / step["uv_project_dir"]
    py.check_uv_project(project / "pyproject.toml")
    extras = tuple(step.get("extras") or ())
    if (project / "uv.lock").is_file() and step.get("frozen", True):
        found.exports.append(UvExport(project.resolve(), extras, tuple(step.get("groups") or ())))
        return
    found.files.append(project / "pyproject.toml")
    found.flags += [f"--extra={e}" for e in extras]


def _uv_flags(step: Mapping[str, Any]) -> list[str]:
    """Index options as single ``--flag=value`` arguments (so that duplicates across steps merge)."""
    flags = [f"{flag}={step[key]}" for key, flag in (("find_links", "--find-links"), ("index_url", "--index-url"),
                                                      ("extra_index_url", "--extra-index-url")) if step.get(key)]
    return flags + (["--prerelease=allow"] if step.get("pre") else [])


def _describe(step: Mapping[str, Any]) -> str:
    detail = step.get("packages") or step.get("commands") or step.get("function") or ""
    return f"{step['op']}({', '.join(detail) if isinstance(detail, list) else detail})"


def _key(plan: EnvPlan) -> str:
    files = []
    exported = [path for e in plan.exports for path in (e.project / "pyproject.toml", e.project / "uv.lock")]
    for path in (*plan.requirement_files, *exported):
        if not path.is_file():
            raise ImageError(f"local environment: no such file {str(path)!r}; fix the path in the image's steps.")
        files.append([path.name, hashlib.sha256(path.read_bytes()).hexdigest()])
    data = {"v": ENV_VERSION, "python": [sys.executable, sys.version], "worker": WORKER_REQUIREMENTS,
            "requirements": sorted(plan.requirements), "files": files, "flags": list(plan.flags),
            "exports": [[list(e.extras), list(e.groups)] for e in plan.exports]}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


# -- building ------------------------------------------------------------------------------------

def envs_dir(home: Path) -> Path:
    return home / "envs"


def ensure_env(spec: Mapping[str, Any], root: Path, home: Path, log: Log = lambda line: None) -> LocalEnv:
    """The environment for ``spec``, built with uv unless a complete one with the same key exists."""
    plan = plan_env(spec, root)
    path = envs_dir(home) / plan.key[:24]
    if (path / READY).is_file():
        return LocalEnv(path, plan, built=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second serve waits here, then finds it built
        if (path / READY).is_file():
            return LocalEnv(path, plan, built=False)
        what = (f"building the local environment for image {spec.get('spec_hash', '')[:12]} with uv "
                f"({len(plan.requirements)} packages, {len(plan.requirement_files)} files)")
        if not isinstance(log, Display):
            log(f"{what} in {path}")
            _build(plan, path)
        else:  # a progress display: one task, a step per uv call
            with log.task(what, total=3 + len(plan.exports)) as task:
                _build(plan, path, task.step)
    return LocalEnv(path, plan, built=True)


def _build(plan: EnvPlan, path: Path, step: Callable[[str], None] = lambda _text: None) -> None:
    staging = path.with_name(f"{path.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    uv = find_uv()
    try:
        step(f"uv venv (Python {sys.version.split()[0]})")
        _uv([uv, "venv", "--quiet", "--python", sys.executable, str(staging)], "uv venv")
        install = [uv, "pip", "install", "--quiet", "--python", str(staging / "bin" / "python"), *plan.flags,
                   *WORKER_REQUIREMENTS, *plan.requirements]
        for file in (*plan.requirement_files, *_export_locks(uv, plan.exports, staging, step)):
            install += ["--requirements", str(file)]
        packages = [*plan.requirements, *(str(f) for f in plan.requirement_files)]
        step(f"uv pip install {' '.join(packages)} (and toolkit's worker requirements)")
        _uv(install, "uv pip install " + " ".join(packages))
        step("linking toolkit's worker code into the environment")
        _link_toolkit(staging, path)
        (staging / READY).write_text(json.dumps({"key": plan.key, "requirements": plan.requirements}) + "\n")
        staging.rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _export_locks(uv: str, exports: Sequence[UvExport], staging: Path, step: Callable[[str], None]) -> list[Path]:
    files = []
    for index, export in enumerate(exports):
        step(f"uv export of the locked versions of {export.project.name}")
        files.append(staging / f"uv-sync-{index}.txt")
        _uv([uv, "export", "--quiet", "--frozen", "--no-hashes", "--no-emit-project", "--project", str(export.project),
             *(f"--extra={e}" for e in export.extras), *(f"--group={g}" for g in export.groups),
             "--output-file", str(files[-1])], f"uv export of the uv_sync project {str(export.project)!r}")
    return files


def _uv(args: Sequence[str], step: str) -> None:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise ImageError(f"local environment: {step} failed:\n{done.stderr.strip()[-4000:]}\nFix the image's "
                         "Python steps, or run with --local-env current to use your own environment.")


def _link_toolkit(staging: Path, final: Path) -> None:
    """Make ``toolkit`` and ``runtime`` importable in the environment without installing them."""
    import runtime

    links = staging / "toolkit-src"
    links.mkdir()
    # toolkit's directory from this file's place: importing the package here would make a cycle
    # (toolkit/__init__ -> ... -> this module) for code that builds environments, like Image.build.
    packages = {"toolkit": Path(__file__).resolve().parents[1],
                "runtime": Path(runtime.__file__ or "").resolve().parent}
    for name, directory in packages.items():
        (links / name).symlink_to(directory)
    site_dirs = list((staging / "lib").glob("python3*/site-packages"))
    if not site_dirs:
        raise ImageError(f"local environment: uv created no site-packages under {str(staging)!r}.")
    (site_dirs[0] / "_toolkit_worker.pth").write_text(str(final / "toolkit-src") + "\n")


def find_uv() -> str:
    """uv's binary: the ``uv`` PyPI package's, else one on PATH."""
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
    if not found:
        raise ImageError("local environments are built with uv, which is not installed; pip install uv, or run "
                         "with --local-env current to use your own environment.")
    return found


# -- which functions run where ---

MODES = ("image", "current")


def local_env_mode(flag: str | None) -> str:
    """``--local-env`` if given, else the ``local_env`` setting (``TOOLKIT_LOCAL_ENV``, config.toml)."""
    from toolkit.config import setting

    mode = flag or setting("local_env") or "image"
    if mode not in MODES:
        raise ImageError(f"local_env={mode!r} is not a choice: use 'image' (each image's own environment) or "
                         "'current' (the Python toolkit runs in), with --local-env or TOOLKIT_LOCAL_ENV.")
    return mode


def use_for_app(app: Any, flag: str | None, log: Log) -> None:
    """``App.run()``: the app's workers in their images' environments (``image`` mode) and their
    images' workdirs.  Read from the app's functions and ``with_options`` variants, as its manifest
    lists them, without building the manifest (whose builder imports `toolkit.app`); `toolkit run`
    uses the manifest (`use_local_envs`)."""
    from toolkit.config import home
    from toolkit.variants import registered_variants

    specs = {tag: fn.spec for tag, fn in app.registered_functions.items()}
    specs.update({tag: variant.spec for tag, variant in registered_variants(app).items()})
    images = [(app.app_name or "", tag, with_worker_needs(spec.image.to_dict(), bool(spec.bucket_mounts)))
              for tag, spec in sorted(specs.items())]
    _use_images(images, Path.cwd(), home(), log, envs=local_env_mode(flag) == "image")


_REPORTED: set[str] = set()  # images whose skipped steps were already reported by this process


def use_local_envs(manifest: Any, root: Path, home: Path, log: Log, *, envs: bool = True) -> list[LocalEnv]:
    """Decide how each function's local workers start (`toolkit.local.interpreters`): in its
    image's environment when the image has Python steps (and ``envs``: the ``image`` mode), else
    in the current one; from the mirror of the image's workdir when it sets one
    (`toolkit.images.local_files`).  Returns the environments used."""
    from runtime.manifest import load

    app = load(manifest)
    images = [(app.app_name or "", fn.tag, with_worker_needs({"base": dict(fn.image.base), "steps": list(fn.image.steps),
                                                              "spec_hash": fn.image.spec_hash}, bool(fn.bucket_mounts)))
              for fn in app.functions if fn.image is not None]
    return _use_images(images, root, home, log, envs=envs)


def with_worker_needs(spec: dict[str, Any], bucket_mounts: bool) -> dict[str, Any]:
    """The image spec a function's environment is built from: with boto3 when the function mounts a
    bucket (its worker syncs it), else as it is.  An image shared by functions with and without
    mounts then has two environments."""
    return {**spec, "worker_requirements": list(BUCKET_MOUNT_REQUIREMENTS)} if bucket_mounts else spec


def _use_images(images: Sequence[tuple[str, str, Mapping[str, Any]]], root: Path, home: Path, log: Log, *,
                envs: bool) -> list[LocalEnv]:
    """`use_local_envs` for (app name, function tag, image spec) triples."""
    from toolkit.images.local_files import mirror_files
    from toolkit.local import interpreters

    built: dict[tuple[str, ...], LocalEnv] = {}
    assignments: dict[tuple[str, str], interpreters.Launch] = {}
    for app_name, tag, spec in images:
        env = _env_for(spec, root, home, log, built) if envs else None
        _report_python(spec, log)
        files = mirror_files(spec, root, home)
        variables = image_variables(spec["steps"])
        if env is not None or files is not None or variables:
            assignments[(app_name, tag)] = interpreters.Launch(
                python=str(env.python) if env else sys.executable, image_hash=spec["spec_hash"] if env else None,
                cwd=str(files.cwd) if files and files.cwd else None, env=variables)
    interpreters.use(assignments)
    return list(built.values())


def image_variables(steps: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The variables the image's ``Image.env`` steps set, as the functions see them in the image.  A
    ``$NAME`` or ``${NAME}`` in a value expands against the earlier steps' variables, then this
    process's environment, as ``ENV`` does against the image's (``PATH=/opt/bin:$PATH`` keeps the
    host's ``PATH``); an unknown name stays as written."""
    variables: dict[str, str] = {}
    for step in steps:
        if step.get("op") == "env":
            for name, value in step["vars"].items():
                variables[name] = _VARIABLE.sub(lambda m: _lookup(m, variables), str(value))
    return variables


_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def _lookup(match: re.Match[str], variables: Mapping[str, str]) -> str:
    name = match.group(1) or match.group(2)
    return variables.get(name, os.environ.get(name, match.group(0)))


def _env_for(spec: Mapping[str, Any], root: Path, home: Path, log: Log,
             built: dict[tuple[str, ...], LocalEnv]) -> LocalEnv | None:
    if not any(s.get("op") in PYTHON_OPS for s in spec["steps"]):
        # Nothing to install: the current environment.  Its run_commands/apt steps are still not run
        # (a `pip install` in run_commands is the usual way such an image gets its packages): say so.
        _report_skipped(spec["spec_hash"], plan_env(spec, root).skipped, log)
        return None
    key = (spec["spec_hash"], *(spec.get("worker_requirements") or ()))
    if key not in built:
        built[key] = ensure_env(spec, root, home, log)
        _report_skipped(spec["spec_hash"], built[key].plan.skipped, log)
    return built[key]


_PYTHON_REPORTED: set[str] = set()  # images whose Python version was already compared by this process


def _report_python(spec: Mapping[str, Any], log: Log) -> None:
    """Say once per image when it asks for another Python than the one local workers run (uv cannot
    fetch interpreters here, so local environments use this one)."""
    wanted = str(spec["base"].get("python_version") or "")
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if wanted and ".".join(wanted.split(".")[:2]) != here and spec["spec_hash"] not in _PYTHON_REPORTED:
        _PYTHON_REPORTED.add(spec["spec_hash"])
        log(f"image {spec['spec_hash'][:12]}: asks for Python {wanted}; local workers run Python "
            f"{sys.version.split()[0]} (the built image has {wanted}).")


def _report_skipped(spec_hash: str, skipped: tuple[str, ...], log: Log) -> None:
    if skipped and spec_hash not in _REPORTED:
        _REPORTED.add(spec_hash)
        log(f"image {spec_hash[:12]}: skipped locally (they run only in the built image): "
            f"{'; '.join(skipped)}. Use toolkit serve --containers to run the whole image.")

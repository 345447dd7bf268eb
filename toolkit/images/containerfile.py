"""Image spec steps -> Containerfile instructions, in an order that keeps caches warm.

Layers, least to most often changed:

1. ``FROM`` the base (after mirrors), plus a Python check for ``add_python``;
2. toolkit's runtime dependencies (change only when toolkit is upgraded);
3. the user's build steps, in the order they were chained (``pip_install``,
   ``apt_install``, ``run_commands``, and any ``env``/``workdir``/``add_local_*`` that a
   later build step may need);
4. toolkit's own sources and entrypoint (one small COPY);
5. the user's trailing ``add_local_*`` / ``env`` / ``workdir`` steps (data, extra modules);
6. the app's code and manifest: the only layer a code-only change touches.

Every spec step has one renderer below (``STEP_RENDERERS``); docs/images.md maps each
``Image`` method to what it writes here.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.environment import ContainerEnv
from toolkit.image import IMAGE_ENV
from toolkit.images import python_steps as py
from toolkit.images import runtime_layer as rt
from toolkit.images.bases import GPU_ENV
from toolkit.images.context import ALWAYS_IGNORED, BuildContext
from toolkit.images.dockerfile import copies_from, copy_line, dockerfile_lines
from toolkit.images.errors import ImageError, MissingLocalPathError

# steps that RUN something (a file added before one of them must be there when it runs)
BUILD_STEPS = frozenset({"pip_install", "pip_install_from_requirements", "pip_install_from_pyproject",
                         "uv_pip_install", "uv_sync", "apt_install", "run_commands", "run_function",
                         "dockerfile_commands"})
BUILD_DIR = "/.toolkit-build"  # where run_function scripts and requirement files are copied
CA_SECRET_ID = "toolkit-ca"
BASE_ENV = {"PIP_BREAK_SYSTEM_PACKAGES": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_CACHE_DIR": "1", "PIP_ROOT_USER_ACTION": "ignore", "PYTHONUNBUFFERED": "1"}


@dataclass
class Renderer:
    """Accumulates Containerfile lines and the context files they COPY from."""

    context: BuildContext
    root: Path                    # where relative local paths are read from
    with_ca: bool = False         # mount a CA bundle into RUN steps (TLS-intercepting networks)
    lines: list[str] = field(default_factory=list)
    _local_count: int = 0
    _uv_installed: set[str] = field(default_factory=set)  # uv versions already installed by a RUN
    runtime_done: bool = False    # toolkit's runtime layer is written: a PYTHONPATH must keep it

    def comment(self, text: str) -> None:
        self.lines.append(f"\n# {text}")

    def run(self, command: str, step: Mapping[str, Any] | None = None) -> None:
        """A RUN line; ``step``'s build-time ``env`` (and a ``force_build`` nonce) apply to it only."""
        values = dict((step or {}).get("env") or {})
        if (step or {}).get("force_build"):
            # a new value on every plan: the RUN's text changes, so the builder's cache misses from here
            values["TOOLKIT_FORCE_BUILD"] = uuid.uuid4().hex
        prefix = f"export {_quote_pairs(values)} && " if values else ""
        if self.with_ca:
            ca = f"/run/secrets/{CA_SECRET_ID}"
            prefix = f"export PIP_CERT={ca} SSL_CERT_FILE={ca} REQUESTS_CA_BUNDLE={ca} && " + prefix
            self.lines.append(f"RUN --mount=type=secret,id={CA_SECRET_ID} {prefix}{command}")
        else:
            self.lines.append(f"RUN {prefix}{command}")

    def env(self, values: Mapping[str, str]) -> None:
        if values:
            pairs = " ".join(f"{k}={_env_value(v)}" for k, v in sorted(values.items()))
            self.lines.append(f"ENV {pairs}")

    def copy(self, source: str, dest: str) -> None:
        self.lines.append(f"COPY {json.dumps([source, dest])}")

    def next_local_dir(self) -> str:
        self._local_count += 1
        return f"local/{self._local_count}"

    def text(self) -> str:
        return "\n".join(self.lines).lstrip() + "\n"


def _env_value(value: str) -> str:
    # json quoting escapes " and \; $ must not expand at build time
    return json.dumps(value).replace("$", "\\$")


def _quote_all(items: Sequence[str]) -> str:
    return " ".join(shlex.quote(item) for item in items)


def _quote_pairs(values: Mapping[str, str]) -> str:
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(values.items()))


# -- one function per step kind ------------------------------------------------------------------

def pip_install(r: Renderer, step: Mapping[str, Any]) -> None:
    r.run(py.pip_command(step["packages"], step), step)


def pip_install_from_requirements(r: Renderer, step: Mapping[str, Any]) -> None:
    remote = f"{BUILD_DIR}/requirements-{r._local_count + 1}.txt"
    _copy_local_file(r, step["requirements_txt"], remote, "pip_install_from_requirements")
    r.run(py.pip_command([], step, requirements=remote), step)


def pip_install_from_pyproject(r: Renderer, step: Mapping[str, Any]) -> None:
    deps = py.pyproject_dependencies(r.root / step["pyproject_toml"], step.get("optional_dependencies") or [])
    if deps:
        r.run(py.pip_command(deps, step), step)


def _install_uv(r: Renderer, version: str | None) -> None:
    if (version or "") not in r._uv_installed:
        r.run(py.install_uv_command(version))
        r._uv_installed.add(version or "")


def uv_pip_install(r: Renderer, step: Mapping[str, Any]) -> None:
    _install_uv(r, step.get("uv_version"))
    remotes = []
    for index, local in enumerate(step.get("requirements") or []):
        remotes.append(f"{py.UV_ROOT}/{r._local_count + 1}/{index}/{Path(local).name}")
        _copy_local_file(r, local, remotes[-1], "uv_pip_install(requirements=...)")
    r.run(py.uv_pip_command(step["packages"], step, remotes), step)


def uv_sync(r: Renderer, step: Mapping[str, Any]) -> None:
    project = r.root / step["uv_project_dir"]
    py.check_uv_project(project / "pyproject.toml")
    _install_uv(r, step.get("uv_version"))
    _copy_local_file(r, str(project / "pyproject.toml"), f"{py.UV_ROOT}/pyproject.toml", "uv_sync")
    has_lock = (project / "uv.lock").is_file()
    if has_lock:
        _copy_local_file(r, str(project / "uv.lock"), f"{py.UV_ROOT}/uv.lock", "uv_sync")
    r.run(py.uv_sync_command(step, has_lock), step)


def _copy_local_file(r: Renderer, local: str, remote: str, what: str) -> None:
    source = r.root / local
    dest = f"{r.next_local_dir()}/{source.name}"
    r.context.add_file(dest, source, what=f"{what}({local!r})")
    r.copy(dest, remote)


def apt_install(r: Renderer, step: Mapping[str, Any]) -> None:
    r.run("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
          + _quote_all(step["packages"]) + " && rm -rf /var/lib/apt/lists/*", step)


def run_commands(r: Renderer, step: Mapping[str, Any]) -> None:
    for command in step["commands"]:
        r.run(command, step)


def run_function(r: Renderer, step: Mapping[str, Any]) -> None:
    dest = f"{r.next_local_dir()}/run_function.py"
    remote = f"{BUILD_DIR}/run_function_{r._local_count}.py"
    r.context.add_bytes(dest, step["script"].encode())
    r.copy(dest, remote)
    # the runtime's packages are installed by now, toolkit's own sources are not: the script imports
    # only what the function uses (toolkit.build_function)
    r.run(f"timeout {int(step['timeout'])} python3 {remote}", step)


def dockerfile_commands(r: Renderer, step: Mapping[str, Any]) -> None:
    # raw lines cannot be prefixed like RUN steps: build-time values are ARGs (RUNs below see them)
    args = {**(step.get("build_args") or {}), **(step.get("env") or {})}
    if step.get("force_build"):
        args["TOOLKIT_FORCE_BUILD"] = uuid.uuid4().hex
    r.lines.extend(f"ARG {name}={json.dumps(value)}" for name, value in sorted(args.items()))
    provided = step.get("context_files") or {}
    for context_path, local in sorted(provided.items()):
        r.context.add_file(context_path, r.root / local, what=f"dockerfile_commands(context_files={{{context_path!r}: ...}})")
    context_dir = r.root / (step.get("context_dir") or ".")
    ignore = [*ALWAYS_IGNORED, *(step.get("ignore") or [])]
    for line in step["commands"]:
        if line.split(None, 1)[0].upper() in ("COPY", "ADD") and not copies_from(line, provided):
            line = copy_line(line, context_dir, ignore, r.context)
        r.lines.append(line)


def shell(r: Renderer, step: Mapping[str, Any]) -> None:
    r.lines.append(f"SHELL {json.dumps(step['commands'])}")


def settings_only(r: Renderer, step: Mapping[str, Any]) -> None:
    """entrypoint and cmd: they shape the image's metadata, written last (see `_metadata`)."""


def env(r: Renderer, step: Mapping[str, Any]) -> None:
    values = dict(step["vars"])
    if r.runtime_done and "PYTHONPATH" in values:
        values["PYTHONPATH"] = f"{rt.RUNTIME_DIR}:{values['PYTHONPATH']}"
    r.env(values)


def workdir(r: Renderer, step: Mapping[str, Any]) -> None:
    r.lines.append(f"WORKDIR {step['path']}")


def add_local_file(r: Renderer, step: Mapping[str, Any]) -> None:
    source = r.root / step["local_path"]
    dest = f"{r.next_local_dir()}/{source.name}"
    r.context.add_file(dest, source, what=f"add_local_file({step['local_path']!r})")
    r.copy(dest, step["remote_path"])


def add_local_dir(r: Renderer, step: Mapping[str, Any]) -> None:
    dest = r.next_local_dir()
    r.context.add_tree(dest, r.root / step["local_path"], ignore=step.get("ignore") or (),
                       what=f"add_local_dir({step['local_path']!r})")
    remote = step["remote_path"].rstrip("/") + "/"
    if any(name.startswith(dest + "/") for name in r.context.files):
        r.copy(dest + "/", remote)
    else:  # nothing left after ignore: COPY of a missing context path would fail the build
        r.run(f"mkdir -p {shlex.quote(remote)}")


def add_local_python_source(r: Renderer, step: Mapping[str, Any]) -> None:
    for module in step["modules"]:
        location, is_package = module_location(module)
        relative = module.replace(".", "/") + ("" if is_package else ".py")
        dest = f"{r.next_local_dir()}/{relative}"
        what = f"add_local_python_source({module!r})"
        include = ("*.py",) if step.get("python_only") else ()  # the platform's default: sources only
        if is_package:
            r.context.add_tree(dest, location, ignore=step.get("ignore") or (), include=include, what=what)
            r.copy(dest + "/", f"{rt.TASK_ROOT}/{relative}/")
        else:
            r.context.add_file(dest, location, what=what)
            r.copy(dest, f"{rt.TASK_ROOT}/{relative}")


def module_location(module: str) -> tuple[Path, bool]:
    """Where ``module``'s source is, found without importing it (parents of a dotted name are)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or (spec.origin in (None, "built-in", "frozen") and not spec.submodule_search_locations):
        raise MissingLocalPathError(f"add_local_python_source({module!r}): no module {module!r} on sys.path; "
                                    "fix the name or run toolkit from the directory that contains it.")
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0]), True
    assert spec.origin is not None
    return Path(spec.origin), False


STEP_RENDERERS = {f.__name__: f for f in (
    pip_install, pip_install_from_requirements, pip_install_from_pyproject, uv_pip_install, uv_sync,
    apt_install, run_commands, run_function, dockerfile_commands, shell, env, workdir,
    add_local_file, add_local_dir, add_local_python_source)}
STEP_RENDERERS.update(entrypoint=settings_only, cmd=settings_only)


def render_step(r: Renderer, step: Mapping[str, Any]) -> None:
    renderer = STEP_RENDERERS.get(step.get("op", ""))
    if renderer is None:
        raise ImageError(f"Unknown image step {step.get('op')!r}; this toolkit knows {sorted(STEP_RENDERERS)}.")
    renderer(r, step)


def split_steps(steps: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(steps that must run before the runtime layer, trailing steps that can go after it).
    Everything up to the last build step stays in order: a RUN may use a file added before it."""
    last_build = max((i for i, s in enumerate(steps) if s.get("op") in BUILD_STEPS), default=-1)
    return list(steps[: last_build + 1]), list(steps[last_build + 1:])


def add_python_check(r: Renderer, version: str) -> None:
    check = f"python3 -c 'import sys; sys.exit(sys.version_info[:2] != ({version.replace('.', ', ')}))'"
    install = ("(command -v apt-get >/dev/null && apt-get update && DEBIAN_FRONTEND=noninteractive "
               "apt-get install -y --no-install-recommends python3 python3-pip && rm -rf /var/lib/apt/lists/*)")
    fail = (f"(echo 'add_python={version}: this base has no Python {version} and its package manager "
            f"does not provide it; pick a base with Python {version} or use Image.debian_slim()' >&2; exit 1)")
    r.run(f"{check} 2>/dev/null || {{ {install} && {check}; }} || {fail}")


@dataclass(frozen=True)
class Layout:
    """What `render` needs to know beyond the spec's steps."""

    base_ref: str
    add_python: str | None
    gpu: bool
    labels: Mapping[str, str]
    spec_hash: str = ""                                             # becomes TOOLKIT_IMAGE_HASH in the image
    volume_paths: tuple[str, ...] = ()                              # mount paths of its functions' volumes
    base_spec: Mapping[str, Any] = field(default_factory=dict)      # setup lines, force_build, a Dockerfile
    mirror: Callable[[str], str] = field(default=lambda ref: ref)   # a base reference -> the one to pull


def render(r: Renderer, steps: Sequence[Mapping[str, Any]], layout: Layout) -> str:
    early, tail = split_steps(steps)
    render_base(r, layout)
    r.env(BASE_ENV)
    if layout.add_python:
        add_python_check(r, layout.add_python)
    r.comment("toolkit runtime dependencies")
    r.run("python3 -m pip install " + _quote_all(rt.REQUIREMENTS), _forced(layout.base_spec))
    if early:
        r.comment("image steps")
    for step in early:
        render_step(r, step)
    _runtime(r, steps, layout)
    if tail:
        r.comment("local files")
    for step in tail:
        render_step(r, step)
    _volume_links(r, layout.volume_paths)
    r.comment("the app's code and manifest")
    r.copy("app/", rt.TASK_ROOT + "/")
    _metadata(r, layout.labels, steps)
    return r.text()


def _volume_links(r: Renderer, paths: Sequence[str]) -> None:
    """Each volume mount path links into /tmp, where the container makes the rest of the way to the
    volume's copy: a Lambda cannot create anything outside /tmp (`runtime.volumes.mounts`)."""
    from runtime.volumes.mounts import staged

    if paths:
        r.comment("volume mount paths")
    for path in paths:
        parent = str(Path(path).parent)
        r.run(f"mkdir -p {shlex.quote(parent)} && ln -sfn {shlex.quote(staged(path))} {shlex.quote(path)}")


def render_base(r: Renderer, layout: Layout) -> None:
    spec = layout.base_spec
    if spec.get("kind") == "dockerfile":
        r.comment(f"from_dockerfile({spec['path']!r})")
        r.lines.extend(dockerfile_lines(spec, r.root, r.context, layout.mirror))
    else:
        r.lines.append(f"FROM {layout.base_ref}")
    r.lines.extend(spec.get("setup") or [])


def _forced(base_spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A base built with force_build=True: its first RUN changes on every plan, so nothing is reused."""
    return {"force_build": True} if base_spec.get("force_build") else None


def _runtime(r: Renderer, steps: Sequence[Mapping[str, Any]], layout: Layout) -> None:
    r.comment("toolkit runtime")
    r.copy(rt.CONTEXT_DIR + "/", rt.RUNTIME_DIR + "/")
    # Lambda's filesystem is read-only: without bytecode compiled here, every cold start would
    # compile the runtime's modules again (pip already compiles what it installs)
    r.run(f"python3 -m compileall -q -j 0 {rt.RUNTIME_DIR}")
    user_path = [s["vars"]["PYTHONPATH"] for s in steps if s.get("op") == "env" and "PYTHONPATH" in s["vars"]]
    identity = {IMAGE_ENV: layout.spec_hash} if layout.spec_hash else {}
    r.env({"PYTHONPATH": ":".join([rt.RUNTIME_DIR, *user_path[-1:]]),
           **ContainerEnv(manifest=rt.MANIFEST_PATH, app_root=rt.TASK_ROOT).to_environ(),  # the image's own part
           "PORT": str(rt.HTTP_PORT), **identity,
           **(GPU_ENV if layout.gpu else {})})
    r.runtime_done = True
    # the functions run where the user's last workdir() says, as on the hosted platform (a later
    # workdir step, in the tail, comes after this one and wins)
    workdirs = [s["path"] for s in steps[:len(split_steps(steps)[0])] if s.get("op") == "workdir"]
    r.lines.append(f"WORKDIR {(workdirs or [rt.TASK_ROOT])[-1]}")


def _metadata(r: Renderer, labels: Mapping[str, str], steps: Sequence[Mapping[str, Any]]) -> None:
    labels = dict(labels)
    commands = [s["commands"] for s in steps if s.get("op") == "cmd"]
    if commands:  # no effect on functions (the runtime is what runs); kept for tools that start the image
        labels["dev.toolkit.cmd"] = json.dumps(commands[-1])
    wrappers = [s["commands"] for s in steps if s.get("op") == "entrypoint"]
    r.lines.append("LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())))
    r.lines.append(f"EXPOSE {rt.HTTP_PORT}")
    r.lines.append(f"ENTRYPOINT {json.dumps([*(wrappers or [[]])[-1], rt.ENTRYPOINT])}")
    r.lines.append("CMD []")

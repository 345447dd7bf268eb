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
"""

from __future__ import annotations

import importlib.util
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.images import runtime_layer as rt
from toolkit.images.bases import GPU_ENV
from toolkit.images.context import BuildContext
from toolkit.images.errors import ImageError, MissingLocalPathError

BUILD_STEPS = frozenset({"pip_install", "apt_install", "run_commands"})
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

    def comment(self, text: str) -> None:
        self.lines.append(f"\n# {text}")

    def run(self, command: str) -> None:
        if self.with_ca:
            ca = f"/run/secrets/{CA_SECRET_ID}"
            prefix = f"export PIP_CERT={ca} SSL_CERT_FILE={ca} REQUESTS_CA_BUNDLE={ca} && "
            self.lines.append(f"RUN --mount=type=secret,id={CA_SECRET_ID} {prefix}{command}")
        else:
            self.lines.append(f"RUN {command}")

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


# -- one function per step kind ------------------------------------------------------------------

def pip_install(r: Renderer, step: Mapping[str, Any]) -> None:
    flags = []
    if step.get("index_url"):
        flags += ["--index-url", step["index_url"]]
    if step.get("extra_index_url"):
        flags += ["--extra-index-url", step["extra_index_url"]]
    if step.get("pre"):
        flags.append("--pre")
    r.run("python3 -m pip install " + _quote_all([*flags, *step["packages"]]))


def apt_install(r: Renderer, step: Mapping[str, Any]) -> None:
    r.run("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
          + _quote_all(step["packages"]) + " && rm -rf /var/lib/apt/lists/*")


def run_commands(r: Renderer, step: Mapping[str, Any]) -> None:
    for command in step["commands"]:
        r.run(command)


def env(r: Renderer, step: Mapping[str, Any]) -> None:
    r.env(step["vars"])


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
    r.copy(dest + "/", step["remote_path"].rstrip("/") + "/")


def add_local_python_source(r: Renderer, step: Mapping[str, Any]) -> None:
    for module in step["modules"]:
        location, is_package = module_location(module)
        relative = module.replace(".", "/") + ("" if is_package else ".py")
        dest = f"{r.next_local_dir()}/{relative}"
        what = f"add_local_python_source({module!r})"
        if is_package:
            r.context.add_tree(dest, location, ignore=step.get("ignore") or (), what=what)
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


STEP_RENDERERS = {f.__name__: f for f in (pip_install, apt_install, run_commands, env, workdir,
                                          add_local_file, add_local_dir, add_local_python_source)}


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


def render(r: Renderer, steps: Sequence[Mapping[str, Any]], layout: Layout) -> str:
    early, tail = split_steps(steps)
    r.lines.append(f"FROM {layout.base_ref}")
    r.env(BASE_ENV)
    if layout.add_python:
        add_python_check(r, layout.add_python)
    r.comment("toolkit runtime dependencies")
    r.run("python3 -m pip install " + _quote_all(rt.REQUIREMENTS))
    if early:
        r.comment("image steps")
    for step in early:
        render_step(r, step)
    _runtime(r, steps, layout.gpu)
    if tail:
        r.comment("local files")
    for step in tail:
        render_step(r, step)
    r.comment("the app's code and manifest")
    r.copy("app/", rt.TASK_ROOT + "/")
    _metadata(r, layout.labels)
    return r.text()


def _runtime(r: Renderer, steps: Sequence[Mapping[str, Any]], gpu: bool) -> None:
    r.comment("toolkit runtime")
    r.copy(rt.CONTEXT_DIR + "/", rt.RUNTIME_DIR + "/")
    # Lambda's filesystem is read-only: without bytecode compiled here, every cold start would
    # compile the runtime's modules again (pip already compiles what it installs)
    r.run(f"python3 -m compileall -q -j 0 {rt.RUNTIME_DIR}")
    user_path = [s["vars"]["PYTHONPATH"] for s in steps if s.get("op") == "env" and "PYTHONPATH" in s["vars"]]
    r.env({"PYTHONPATH": ":".join([rt.RUNTIME_DIR, *user_path[-1:]]), "TOOLKIT_MANIFEST": rt.MANIFEST_PATH,
           "TOOLKIT_APP_ROOT": rt.TASK_ROOT, "PORT": str(rt.HTTP_PORT), **(GPU_ENV if gpu else {})})
    r.lines.append(f"WORKDIR {rt.TASK_ROOT}")


def _metadata(r: Renderer, labels: Mapping[str, str]) -> None:
    r.lines.append("LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())))
    r.lines.append(f"EXPOSE {rt.HTTP_PORT}")
    r.lines.append(f"ENTRYPOINT {json.dumps([rt.ENTRYPOINT])}")
    r.lines.append("CMD []")

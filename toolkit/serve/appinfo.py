"""Load the user's app in a throwaway process and describe what `toolkit serve` needs to serve it.

The serve process never imports user code: a broken edit must not take the gateway down,
and a reload must see the file as it is now, not a stale ``sys.modules`` entry.  Run as
``python -m toolkit.serve.appinfo REF [--module]``; prints one JSON document on stdout, or
one error line on stderr with exit code 1.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from toolkit.exception import Error

ERROR_EXIT = 1


@dataclass(frozen=True)
class FunctionSource:
    """Where a worker finds one function again, and the environment its secrets give it."""

    module: str
    source_file: str | None
    env: dict[str, str] = field(default_factory=dict)
    env_error: str | None = None  # e.g. a named secret that does not exist locally


@dataclass(frozen=True)
class AppInfo:
    manifest: dict[str, Any]
    sources: dict[str, FunctionSource]  # by function tag
    files: tuple[str, ...]  # the app's own source files: what live reload watches
    sys_path: tuple[str, ...]
    modules: dict[str, str] = field(default_factory=dict)  # module name -> file, of ``files``: `toolkit.last_good`

    @staticmethod
    def from_json(text: str) -> AppInfo:
        data = json.loads(text)
        return AppInfo(data["manifest"], {k: FunctionSource(**v) for k, v in data["sources"].items()},
                       tuple(data["files"]), tuple(data["sys_path"]), dict(data["modules"]))


def describe(ref: str, is_module: bool) -> dict[str, Any]:
    from toolkit.loader import load_app
    from toolkit.manifest import build_manifest

    app = load_app(ref, is_module=is_module)
    sources = {tag: _source(fn.spec) for tag, fn in app.registered_functions.items()}
    modules = _app_modules(ref, is_module)
    return {"manifest": build_manifest(app, ephemeral=True), "sources": sources,
            "files": sorted(set(modules.values())), "modules": modules, "sys_path": [p for p in sys.path if p]}


def _source(spec: Any) -> dict[str, Any]:
    from toolkit.local.secrets import secret_env

    try:
        env, problem = secret_env(spec.secrets), None
    except Error as exc:
        env, problem = {}, str(exc)
    return {"module": spec.module, "source_file": spec.source_file, "env": env, "env_error": problem}


def _app_modules(ref: str, is_module: bool) -> dict[str, str]:
    """The modules the app loaded from its own directory tree (not site-packages, not toolkit): name -> file."""
    root = os.getcwd() if is_module else os.path.dirname(os.path.abspath(ref.partition("::")[0]))
    toolkit_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        path = os.path.abspath(path)
        if path.startswith(root + os.sep) and not path.startswith(toolkit_dir) and "site-packages" not in path:
            found[name] = path
    return found


def main(argv: list[str]) -> int:
    ref, is_module = argv[0], "--module" in argv[1:]
    try:
        text = json.dumps(describe(ref, is_module))
    except Error as exc:
        print(str(exc), file=sys.stderr)
        return ERROR_EXIT
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

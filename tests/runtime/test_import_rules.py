"""runtime/ runs inside every image: it must never pull in pulumi, click or toolkit's CLI.

The subprocess makes those packages unimportable (as in an image that does not install
them) and imports every runtime module.  httpx probes for click to offer its optional
CLI and carries on without it, so blocking -- not just inspecting sys.modules -- is what
tells "runtime needs click" from "a dependency would use it if present".
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import runtime

FORBIDDEN = ("pulumi", "pulumi_aws", "click", "toolkit.cli")
ROOT = Path(__file__).resolve().parents[2]


def runtime_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(runtime.__path__, "runtime.") if not m.name.endswith("__main__"))


def test_every_runtime_module_imports_without_pulumi_or_click() -> None:
    modules = runtime_modules()
    assert "runtime.lambda_handler" in modules and "runtime.server" in modules and len(modules) > 20
    script = (
        "import importlib, importlib.abc, json, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if any(name == f or name.startswith(f + '.') for f in {FORBIDDEN!r}):\n"
        "            raise ImportError(f'blocked: {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == []


def test_toolkit_cli_is_forbidden_too() -> None:
    assert "toolkit.cli" in FORBIDDEN and not any(m.startswith("toolkit") for m in runtime_modules())

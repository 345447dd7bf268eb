"""The runtime layer is closed under what runs in a container: with only the files
``toolkit.images.runtime_layer`` copies (an allowlist), ``import toolkit``, the runtime's
entrypoints and every example app import.  A module the SDK imports at import time but the
allowlist leaves out would otherwise surface only as a 500 from inside a built image.

No podman needed: the layer's files are copied to a directory and imported by a fresh
interpreter from which this checkout's editable install is hidden.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.images.runtime_layer import CONTEXT_DIR, runtime_sources

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (REPO / "examples").glob("*.py"))

# Hide the editable install's finder (it maps any toolkit.* name to the checkout) and the
# checkout itself, so that only the copied layer can answer an import.
_PRELUDE = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in (getattr(f, "__module__", "") or "").lower()]
sys.path[:] = [p for p in sys.path if p not in ("", {repo!r}) and "__editable__" not in p]
sys.path.insert(0, {layer!r})
"""


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layer")
    for dest, source in runtime_sources():
        target = root / dest[len(CONTEXT_DIR) + 1:]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return root


def _run(layer: Path, body: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = _PRELUDE.format(repo=str(REPO), layer=str(layer)) + body
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_sdk_and_the_entrypoints_import_from_the_layer_alone(layer: Path, tmp_path: Path) -> None:
    body = """
import toolkit, toolkit.sandbox, toolkit.volume, toolkit.dicts, toolkit.queues
import runtime.server, runtime.lambda_handler, runtime.lambda_loop, runtime.entrypoints.worker_task
assert toolkit.__file__.startswith(sys.path[0]), toolkit.__file__
print("imported", toolkit.__file__)
"""
    done = _run(layer, body, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("imported " + str(layer)), done.stdout


def test_a_looked_up_layer_misses_what_it_leaves_out(layer: Path, tmp_path: Path) -> None:
    # the hiding works: the CLI is not in the layer, so it must not import from it
    done = _run(layer, "import toolkit.cli\n", tmp_path)
    assert done.returncode != 0 and "No module named 'toolkit.cli'" in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_imports_in_the_layer(layer: Path, tmp_path: Path, example: Path) -> None:
    shutil.copyfile(example, tmp_path / example.name)
    body = f"""
import importlib.util
spec = importlib.util.spec_from_file_location("userapp_example", {str(tmp_path / example.name)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print("loaded")
"""
    done = _run(layer, body, tmp_path)
    assert done.returncode == 0 and "loaded" in done.stdout, done.stderr[-3000:]

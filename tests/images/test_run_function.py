"""``Image.run_function``: the function becomes a standalone build-time script.  The scripts run here
for real (a fresh ``python3`` with nothing of the module imported), and the spec hash follows the
function's source, arguments and the constants it reads, not the rest of its module."""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from test_image_api import plan as plan_of

import toolkit
from toolkit.exception import InvalidError

_names = itertools.count()

MODULE = '''
import json
import os.path
from pathlib import Path as P

import toolkit

MODEL = "tiny"
SIZES = {"a": [1, 2]}
UNRELATED = "{unrelated}"


def traced(fn):  # a decorator: the script leaves decorators out (they may need what the build lacks)
    return fn


@traced
def scale(x):
    return x * FACTOR


FACTOR = 10


class Recipe:
    def describe(self, n):
        return f"{MODEL}-{scale(n)}"


image = toolkit.Image.debian_slim()


def download(out, n=1):
    target = P(out)
    target.write_text(json.dumps({"model": MODEL, "sizes": SIZES, "n": scale(n),
                                   "recipe": Recipe().describe(n), "exists": os.path.exists(out)}))


async def download_async(out):
    target = P(out)
    target.write_text("async " + MODEL)
'''


def text(unrelated: str = "x") -> str:
    return MODULE.replace("{unrelated}", unrelated)


def load(tmp_path: Path, source: str) -> ModuleType:
    name = f"build_fn_mod_{next(_names)}"
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def script_of(image: toolkit.Image) -> str:
    step = image.steps[-1]
    assert step["op"] == "run_function"
    return str(step["script"])


def run_script(tmp_path: Path, script: str) -> None:
    path = tmp_path / "step.py"
    path.write_text(script)
    # -I: isolated, so neither the test's sys.path nor toolkit can leak into the script
    done = subprocess.run([sys.executable, "-I", str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_script_runs_alone_with_helpers_constants_and_imports(tmp_path: Path) -> None:
    module = load(tmp_path, text())
    out = tmp_path / "out.json"
    image = toolkit.Image.debian_slim().run_function(module.download, args=(str(out),), kwargs={"n": 3})
    script = script_of(image)
    assert "import toolkit" not in script and "UNRELATED" not in script and "traced" not in script
    run_script(tmp_path, script)
    assert json.loads(out.read_text()) == {"model": "tiny", "sizes": {"a": [1, 2]}, "n": 30,
                                           "recipe": "tiny-30", "exists": False}


def test_an_async_function_is_awaited(tmp_path: Path) -> None:
    module = load(tmp_path, text())
    out = tmp_path / "async.txt"
    run_script(tmp_path, script_of(toolkit.Image.debian_slim().run_function(module.download_async,
                                                                            args=[str(out)])))
    assert out.read_text() == "async tiny"


def test_hash_follows_source_arguments_and_constants_not_the_rest_of_the_module(tmp_path: Path) -> None:
    def spec_hash(source: str, *args: Any) -> str:
        module = load(tmp_path, source)
        return toolkit.Image.debian_slim().run_function(module.download, args=args or ("o",)).spec_hash

    base = spec_hash(text())
    assert spec_hash(text("y")) == base                              # elsewhere in the module
    assert spec_hash(text() + "\n# a comment\n") == base          # comments
    assert spec_hash(text(), "other") != base                      # arguments
    assert spec_hash(text().replace('"tiny"', '"big"')) != base   # a constant it reads
    assert spec_hash(text().replace("x * FACTOR", "x + FACTOR")) != base  # a helper
    assert spec_hash(text().replace("n=1", "n=2")) != base        # its own source


def test_the_step_runs_in_the_image_with_its_timeout_and_env(tmp_path: Path) -> None:
    module = load(tmp_path, text())
    image = toolkit.Image.debian_slim().run_function(module.download, args=("/tmp/o",), timeout=60,
                                                     env={"HF_HOME": "/cache"})
    plan = plan_of(tmp_path, image)
    assert 'COPY ["local/1/run_function.py", "/.toolkit-build/run_function_1.py"]' in plan.containerfile
    assert "RUN export HF_HOME=/cache && timeout 60 python3 /.toolkit-build/run_function_1.py" in plan.containerfile
    assert plan.context.files["local/1/run_function.py"].read().decode() == script_of(image)


@pytest.mark.parametrize("source, call, message", [
    ("X = 1\n", lambda m: (lambda: 1), "does not take a lambda"),
    ("def outer():\n    def inner():\n        pass\n    return inner\n", lambda m: m.outer(), "module level"),
    ("def f(x):\n    return x\n", lambda m: m.f, "must be JSON values"),
    ("from pathlib import Path\nROOT = Path('/m')\ndef f():\n    return ROOT\n", lambda m: m.f,
     "global 'ROOT' \\(PosixPath\\).*create it inside the function"),
    ("from .sibling import helper\n", None, "relative import"),
])
def test_misuse_names_the_fix(tmp_path: Path, source: str, call: Any, message: str) -> None:
    if call is None:  # a relative import, which a module file cannot run as written: bind it by hand
        module = load(tmp_path, "def f():\n    return helper()\n")
        module.__dict__["helper"] = len
        source_path = Path(module.__file__ or "")
        source_path.write_text("from .sibling import helper\n\ndef f():\n    return helper()\n")
        call = lambda m: m.f  # noqa: E731
    else:
        module = load(tmp_path, source)
    args = (object(),) if "JSON" in message else ()
    with pytest.raises(InvalidError, match=message):
        toolkit.Image.debian_slim().run_function(call(module), args=args)

"""``with image.imports():`` — soft where the image is not installed, real inside its own image.

"Inside its image" is what the Containerfile says: every image toolkit builds sets
``TOOLKIT_IMAGE_HASH`` to its spec hash (tests/images/test_image_api.py checks the line; the
podman test in test_image_containers.py runs it).  Here real interpreters run a user module with
and without that variable, and a real ``toolkit run`` runs a function from such a module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import toolkit
from toolkit.image import IMAGE_ENV

REPO = Path(__file__).resolve().parents[2]

APP = textwrap.dedent("""
    import toolkit

    image = toolkit.Image.debian_slim().pip_install("toolkit-test-not-installed-pkg")
    with image.imports():
        import json
        import toolkit_test_not_installed_pkg

    app = toolkit.App("imports-app", image=image)


    @app.function(image=image)
    def ping(x: int) -> str:
        return json.dumps({"x": x, "deferred": [type(e).__name__ for e in image.import_errors]})


    if __name__ == "__main__":
        print(image.spec_hash)
""")


def run_python(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != IMAGE_ENV}
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60,
                          env={**clean, **env, "PYTHONPATH": str(REPO)}, cwd=path.parent)


def test_a_missing_package_is_kept_not_raised_where_the_image_is_not_installed() -> None:
    image = toolkit.Image.debian_slim().pip_install("nothing-here")
    with image.imports():
        import json

        import toolkit_test_not_installed_pkg  # type: ignore[import-not-found]  # noqa: F401
    assert json.dumps(1) == "1"  # imports before the failing one happened
    assert [type(e) for e in image.import_errors] == [ModuleNotFoundError]
    assert "toolkit_test_not_installed_pkg" in str(image.import_errors[0])


def test_other_exceptions_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(IMAGE_ENV, raising=False)
    image = toolkit.Image.debian_slim()
    with pytest.warns(UserWarning, match="non-ImportError.*boom"), image.imports():
        raise RuntimeError("boom")
    assert isinstance(image.import_errors[0], RuntimeError)


def test_imports_that_work_leave_nothing_behind() -> None:
    image = toolkit.Image.debian_slim()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with image.imports():
            import json  # noqa: F401
    assert image.import_errors == []


def test_inside_its_own_image_the_import_is_real(tmp_path: Path) -> None:
    app = tmp_path / "imports_app.py"
    app.write_text(APP)
    outside = run_python(app, {})
    assert outside.returncode == 0, outside.stderr
    spec_hash = outside.stdout.strip()
    inside = run_python(app, {IMAGE_ENV: spec_hash})
    assert inside.returncode == 1 and "No module named 'toolkit_test_not_installed_pkg'" in inside.stderr
    other_image = run_python(app, {IMAGE_ENV: "0" * 64})
    assert other_image.returncode == 0, other_image.stderr


def test_toolkit_run_calls_a_function_of_such_a_module_in_process_mode(tmp_path: Path) -> None:
    app = tmp_path / "imports_app.py"
    app.write_text(APP)
    env = {k: v for k, v in os.environ.items() if k != IMAGE_ENV}
    done = subprocess.run([sys.executable, "-m", "toolkit.cli.__main__", "run", f"{app}::ping", "--x", "7"],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**env, "TOOLKIT_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == '{"x": 7, "deferred": ["ModuleNotFoundError"]}'

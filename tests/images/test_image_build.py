"""``Image.build()`` (issue 22): builds the image's local environment ahead of the first call, the one
``toolkit run``/``serve`` workers then use without building (uv from PyPI, as tests/images/test_local_env.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import toolkit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PIN = "0.37.2"  # a starlette older than toolkit's own: the worker's version shows which environment ran


def test_build_makes_the_environment_that_run_then_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("TOOLKIT_HOME", str(home))
    monkeypatch.setenv("TOOLKIT_LOCAL_ENV", "image")
    monkeypatch.chdir(tmp_path)
    image = toolkit.Image.debian_slim().pip_install(f"starlette=={PIN}")
    assert image.build() is image
    assert "building the local environment" in capfd.readouterr().err
    assert image.build() is image and "building" not in capfd.readouterr().err  # cached by the spec

    (tmp_path / "built_app.py").write_text(textwrap.dedent(f"""
        import toolkit
        app = toolkit.App("prebuilt", image=toolkit.Image.debian_slim().pip_install("starlette=={PIN}"))

        @app.function()
        def version() -> str:
            import starlette
            return starlette.__version__
    """))
    done = subprocess.run([sys.executable, "-m", "toolkit.cli", "run", "built_app.py::version"], cwd=tmp_path,
                          env={**os.environ}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert PIN in done.stdout and "building the local environment" not in done.stderr + done.stdout


def test_build_of_an_image_without_python_steps_builds_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_HOME", str(tmp_path / "home"))
    image = toolkit.Image.debian_slim().apt_install("curl")
    assert image.build() is image
    assert not (tmp_path / "home" / "envs").exists()  # workers run in the current environment

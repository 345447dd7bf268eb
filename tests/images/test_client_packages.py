"""The platform client's own dependencies that programs import at top level without installing them
(docs/images.md): an image-mode program whose image asks for none of them imports rich, click, certifi
and typing_extensions from its image's environment."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

APP = textwrap.dedent("""
    import sys

    import certifi
    import click
    import rich
    import typing_extensions

    import toolkit

    app = toolkit.App("client-packages", image=toolkit.Image.debian_slim().pip_install("tabulate"))


    @app.function()
    def where() -> str:
        modules = (certifi, click, rich, typing_extensions)
        outside = [m.__name__ for m in modules if not m.__file__.startswith(sys.prefix)]
        return f"prefix={sys.prefix} outside={outside}"


    @app.local_entrypoint()
    def main() -> None:
        print(where.remote())
""")


def test_an_image_mode_program_imports_the_platform_clients_packages_it_did_not_install(tmp_path: Path) -> None:
    (tmp_path / "client_app.py").write_text(APP)
    env = {**os.environ, "TOOLKIT_HOME": str(tmp_path / "home"), "TOOLKIT_LOCAL_ENV": "image"}
    done = subprocess.run([sys.executable, "-m", "toolkit.cli", "run", "client_app.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "outside=[]" in done.stdout, done.stdout  # each from the image's environment, not the host's
    assert f"prefix={tmp_path / 'home'}" in done.stdout

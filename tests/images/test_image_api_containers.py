"""The image API for real: `toolkit build` of an image using uv_pip_install, run_function, an
entrypoint wrapper and image.imports(), then podman runs it (same fixtures as
test_image_containers.py: debootstrap base, local registry)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from image_tools import LocalRegistry, copy_app, toolkit_build
from loopback import free_port

from toolkit.images import run_container

pytestmark = pytest.mark.slow

API_APP = Path(__file__).parent / "api_app"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, base_image: str, registry: LocalRegistry,
          podman_env: dict[str, str]) -> dict[str, Any]:
    app_dir = copy_app(API_APP, tmp_path_factory.mktemp("api") / "api_app")
    done = toolkit_build(app_dir, "webapp.py", "--registry", registry.host, "--json", env=podman_env)
    assert done.returncode == 0, f"toolkit build failed:\n{done.stdout}\n{done.stderr}"
    return dict(json.loads(done.stdout)["builds"][0])


def test_packages_build_function_and_entrypoint_are_in_the_image(built: dict[str, Any]) -> None:
    """uv installed tabulate; uv sync installed the project's toolz and left the runtime's packages
    (the server answers); fetch_model ran at build time; the wrapper ran before the runtime; this
    image's imports() were real (nothing deferred) while another image's stayed soft."""
    with run_container(built["image"], free_port(), {"TOOLKIT_FUNCTION": "info"}, engine="podman") as c:
        c.wait_healthy(timeout=90)
        reply = httpx.get(c.url + "/", timeout=10).json()
    assert reply == {"tabulate": "0.9.0", "toolz": "1.0.0", "model": "tiny-model:weights", "wrapped": "wrapper-ran",
                     "deferred": [], "other_deferred": ["ModuleNotFoundError"]}


def test_a_failing_import_inside_its_own_image_raises(built: dict[str, Any], podman_env: dict[str, str]) -> None:
    """Inside the image built from the spec, `with image.imports():` does not hide a missing module."""
    done = subprocess.run(["podman", "run", "--rm", "-e", "IMPORT_MISSING=1", built["image"],
                           "python3", "-c", "import webapp"], env=podman_env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "No module named 'toolkit_test_never_installed'" in done.stderr

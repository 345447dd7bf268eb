"""Per-image local environments (issue 15 item 3), for real: uv builds them from PyPI, `toolkit serve`
and `toolkit run` workers run in them.

The app pins ``starlette==0.37.2`` while toolkit's own environment has a starlette 1.x (fastapi's
current line): served in its image's environment, the endpoint sees the pin.  The environment is
reused while the image's Python steps are unchanged (no uv call), rebuilt when they change, and a
failed install shows uv's message with the step.  uv's download cache makes repeat builds take
seconds; the first ever run downloads fastapi, uvicorn and starlette.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from loopback import free_port

import toolkit
from toolkit.images.errors import ImageError
from toolkit.images.local_env import WORKER_REQUIREMENTS, ensure_env, local_env_mode, plan_env

pytestmark = pytest.mark.slow

PIN = "0.37.2"
APP = textwrap.dedent(f"""
    import sys

    import toolkit

    image = (toolkit.Image.debian_slim().pip_install("starlette=={PIN}").apt_install("curl")
             .add_local_file("note.txt", "/app/note.txt").workdir("/app"))
    with image.imports():
        import starlette

    app = toolkit.App("envs-demo", image=image)


    @app.function()
    @toolkit.fastapi_endpoint()
    def version():
        with open("note.txt") as f:  # relative to the image's workdir, mirrored locally
            note = f.read()
        return {{"starlette": starlette.__version__, "prefix": sys.prefix, "note": note,
                 "deferred": [type(e).__name__ for e in image.import_errors]}}


    @app.function()
    def plain() -> str:
        return starlette.__version__ + " " + sys.prefix
""")


def image_env(home: Path) -> dict[str, str]:
    return {**os.environ, "TOOLKIT_HOME": str(home), "TOOLKIT_LOCAL_ENV": "image", "PYTHONUNBUFFERED": "1"}


def toolkit_run(app_dir: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", "run", *args], cwd=app_dir, env=image_env(home),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "envs_app.py").write_text(APP)
    (tmp_path / "note.txt").write_text("from the workdir")
    return tmp_path


def test_the_host_has_a_different_starlette() -> None:
    """The premise of the conflict: toolkit's own environment cannot satisfy the app's pin."""
    assert importlib.metadata.version("starlette") != PIN


@contextmanager
def serving(app_dir: Path, home: Path) -> Iterator[tuple[int, Path]]:
    port, log = free_port(), app_dir / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "toolkit.cli", "serve", "envs_app.py", "--port", str(port),
                                 "--no-reload"], cwd=app_dir, env=image_env(home), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300  # a first build downloads from PyPI
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/endpoints", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield port, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_answers_from_the_images_environment(app_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with serving(app_dir, home) as (port, log):
        reply = httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": f"default--envs-demo-version-dev.localhost:{port}"},
                          timeout=60, trust_env=False)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["starlette"] == PIN and body["deferred"] == []  # imports() are real in the image's environment
    assert body["note"] == "from the workdir"
    assert Path(body["prefix"]).parent == home / "envs"
    output = log.read_text()
    assert output.count("apt_install(curl)") == 1 and "toolkit serve --containers" in output


def test_run_reuses_the_environment_and_rebuilds_when_python_steps_change(app_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = toolkit_run(app_dir, home, "envs_app.py::plain")
    assert first.returncode == 0, first.stderr
    version, prefix = first.stdout.split()
    assert version == PIN and "building the local environment" in first.stderr
    ready = Path(prefix) / ".toolkit-env.json"
    built_at = ready.stat().st_mtime_ns

    again = toolkit_run(app_dir, home, "envs_app.py::plain")
    assert again.returncode == 0 and again.stdout.split() == [PIN, prefix]
    assert "building" not in again.stderr and ready.stat().st_mtime_ns == built_at  # no second install

    source = app_dir / "envs_app.py"
    source.write_text(source.read_text().replace(f"starlette=={PIN}", "starlette==0.38.6"))
    changed = toolkit_run(app_dir, home, "envs_app.py::plain")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.split()[0] == "0.38.6" and changed.stdout.split()[1] != prefix
    assert "building the local environment" in changed.stderr


def test_code_changes_alone_do_not_rebuild(app_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = toolkit.Image.debian_slim().pip_install(f"starlette=={PIN}").to_dict()
    built = ensure_env(spec, app_dir, home)
    (app_dir / "envs_app.py").write_text(APP.replace("def plain", "def renamed_plain"))
    again = ensure_env(spec, app_dir, home)
    assert built.built and not again.built and again.path == built.path


def test_a_failed_install_shows_uvs_message_and_the_step(app_dir: Path, tmp_path: Path) -> None:
    (app_dir / "bad_app.py").write_text(APP.replace(f'pip_install("starlette=={PIN}")',
                                                    'pip_install("toolkit-no-such-dist-xyz==1.0")'))
    done = toolkit_run(app_dir, tmp_path / "home", "bad_app.py::plain")
    assert done.returncode == 1
    assert "uv pip install toolkit-no-such-dist-xyz==1.0 failed" in done.stderr
    assert "toolkit-no-such-dist-xyz" in done.stderr.split("failed", 1)[1]  # uv's own explanation follows
    assert "--local-env current" in done.stderr and "Traceback" not in done.stderr


def test_current_mode_keeps_todays_behaviour(app_dir: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "toolkit.cli", "run", "--local-env", "current", "envs_app.py::plain"],
                          cwd=app_dir, env=image_env(tmp_path / "home"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == importlib.metadata.version("starlette")
    assert not (tmp_path / "home" / "envs").exists()


def test_the_key_follows_requirement_files_and_worker_needs(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six\n")
    spec = toolkit.Image.debian_slim().pip_install_from_requirements("requirements.txt").to_dict()
    first = plan_env(spec, tmp_path)
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    assert plan_env(spec, tmp_path).key != first.key
    assert any(r.startswith("fastapi") for r in WORKER_REQUIREMENTS)
    assert not any(r.startswith("boto3") for r in WORKER_REQUIREMENTS)


def test_only_python_steps_are_installed_and_the_rest_is_listed(tmp_path: Path) -> None:
    spec = (toolkit.Image.from_registry("ubuntu:22.04", add_python="3.11").apt_install("git")
            .run_commands("make").uv_pip_install("six", pre=True, index_url="https://i/simple").to_dict())
    plan = plan_env(spec, tmp_path)
    assert plan.requirements == ("six",) and plan.flags == ("--index-url=https://i/simple", "--prerelease=allow")
    assert [s.split("(")[0] for s in plan.skipped] == ["the registry base ", "apt_install", "run_commands"]


def test_a_bad_mode_names_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_LOCAL_ENV", "venv")
    with pytest.raises(ImageError, match="local_env='venv'.*'image'.*'current'"):
        local_env_mode(None)
    assert local_env_mode("current") == "current"


def test_imports_are_real_in_the_images_environment(app_dir: Path, tmp_path: Path) -> None:
    """Under TOOLKIT_IMAGE_HASH the block does not hide a module the image lacks: the worker
    fails to load, naming it (in process mode the same app runs, see test_image_imports.py)."""
    (app_dir / "strict_app.py").write_text(APP.replace("    import starlette\n",
                                                       "    import starlette\n    import toolkit_never_installed\n"))
    done = toolkit_run(app_dir, tmp_path / "home", "strict_app.py::plain")
    assert done.returncode == 1
    assert "No module named 'toolkit_never_installed'" in done.stderr


def test_workers_launch_in_the_env_and_a_failed_reload_keeps_it(tmp_path: Path) -> None:
    """The launchers' view (`toolkit.local.interpreters`): the image's interpreter, the host's
    site-packages off the worker's path, and an install failure on reload changing nothing."""
    import site

    from toolkit.images.local_env import use_local_envs
    from toolkit.local import interpreters
    from toolkit.local.protocol import WorkerTarget
    from toolkit.manifest import build_manifest

    def manifest(image: toolkit.Image) -> dict[str, object]:
        app = toolkit.App("launch-demo", image=image)
        app.function(name="f")(lambda: 1)
        return build_manifest(app, source={"kind": "file", "path": "a.py", "module": None, "app_variable": "app"})

    host_site = site.getsitepackages()[0]
    target = WorkerTarget(module="a", source_file=None, app_name="launch-demo", tag="f", params=(), max_inputs=1,
                          timeout=1.0, sys_path=(str(tmp_path), host_site))
    image = toolkit.Image.debian_slim().pip_install(f"starlette=={PIN}")
    try:
        [env] = use_local_envs(manifest(image), tmp_path, tmp_path / "home", lambda _line: None)
        python, launched, extra, cwd = interpreters.worker_launch(target)
        assert python == str(env.python) and launched.sys_path == (str(tmp_path),)
        assert extra == {"TOOLKIT_IMAGE_HASH": image.spec_hash} and cwd is None
        with pytest.raises(ImageError, match="missing.txt"):
            use_local_envs(manifest(toolkit.Image.debian_slim().pip_install_from_requirements("missing.txt")),
                           tmp_path, tmp_path / "home", lambda _line: None)
        assert interpreters.worker_launch(target)[0] == str(env.python)
    finally:
        interpreters.use({})
    assert interpreters.worker_launch(target) == (sys.executable, target, {}, None)


def test_uv_sync_installs_the_locked_versions(tmp_path: Path) -> None:
    """With a uv.lock, the environment gets what the lock says (as `uv sync --frozen` in the image),
    not a fresh resolution of the pyproject's ranges."""
    from toolkit.images.local_env import find_uv

    project = tmp_path / "proj"
    project.mkdir()
    pyproject = '[project]\nname = "p"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = ["{dep}"]\n'
    (project / "pyproject.toml").write_text(pyproject.format(dep="tabulate==0.9.0"))
    locked = subprocess.run([find_uv(), "lock", "--project", str(project)], capture_output=True, text=True, timeout=300)
    assert locked.returncode == 0, locked.stderr
    (project / "pyproject.toml").write_text(pyproject.format(dep="tabulate>=0.8"))  # the lock still says 0.9.0
    env = ensure_env(toolkit.Image.debian_slim().uv_sync("proj").to_dict(), tmp_path, tmp_path / "home")
    version = subprocess.run([str(env.python), "-c", "import tabulate; print(tabulate.__version__)"],
                             capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == "0.9.0", version.stderr
    assert plan_env(toolkit.Image.debian_slim().uv_sync("proj", frozen=False).to_dict(), tmp_path).exports == ()

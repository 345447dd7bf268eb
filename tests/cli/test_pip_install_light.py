"""A real install without extras: ``pip install .`` (with uv's pip, into a fresh virtual environment)
brings none of the deploy packages, and its ``toolkit serve`` serves an example."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cli_helpers import EXAMPLES, REPO
from loopback import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
INSTALL_WITHIN_S = 600
SERVE_WITHIN_S = 300  # the example's image installs fastapi[standard] into a local environment first


def _uv() -> str:
    import uv

    return str(uv.find_uv_bin())


def _source(where: Path) -> Path:
    """What ``pip install .`` reads, copied: the build then writes nothing into the checkout (build/, egg-info)."""
    where.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, where / name)
    for package in ("toolkit", "runtime", "infra"):
        shutil.copytree(REPO / package, where / package, ignore=shutil.ignore_patterns("__pycache__"))
    return where


def _light_venv(where: Path, source: Path) -> Path:
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    done = subprocess.run([_uv(), "pip", "install", "--quiet", "--python", str(python), str(source)],
                          capture_output=True, text=True, timeout=INSTALL_WITHIN_S)
    assert done.returncode == 0, done.stderr
    return python


def test_pip_install_without_extras_serves_an_example(tmp_path: Path) -> None:
    python = _light_venv(tmp_path / "venv", _source(tmp_path / "src"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what the install put there
    env.update(TOOLKIT_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1",
               PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}")
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    shutil.copy(EXAMPLES / "simple_endpoint.py", app_dir)

    where = subprocess.run([str(python), "-c", "import toolkit; print(toolkit.__file__)"], cwd=app_dir, env=env,
                           capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(tmp_path / "venv")), where  # the installed copy, not the checkout
    for package in ("pulumi", "pulumi_aws", "boto3", "mangum"):
        missing = subprocess.run([str(python), "-c", f"import {package}"], env=env, capture_output=True, timeout=60)
        assert missing.returncode != 0, f"{package} came with the install without extras"

    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(python.parent / "toolkit"), "serve", "simple_endpoint.py", "--port", str(port)],
                                cwd=app_dir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        host = f"default--simple-endpoint-hello-dev.localhost:{port}"
        deadline = time.monotonic() + SERVE_WITHIN_S
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": host}, timeout=60, trust_env=False)
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            assert answer.status_code == 200 and answer.json() == "Hello world!", (answer.text, log.read_text())
            break
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

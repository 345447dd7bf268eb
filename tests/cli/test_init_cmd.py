"""`toolkit init`: the starter app serves, runs, and its own tests pass; nothing is overwritten."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cli_helpers import serving, toolkit_cli


def test_init_writes_a_starter_that_serves_runs_and_tests(tmp_path: Path) -> None:
    project = tmp_path / "My Shop"
    created = toolkit_cli("init", str(project), cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert f"toolkit serve {project / 'app.py'}" in created.stdout
    assert 'toolkit.App("my-shop")' in (project / "app.py").read_text()  # named after the directory

    ran = toolkit_cli("run", str(project / "app.py"), "--x", "5", cwd=project)
    assert (ran.returncode, ran.stdout.strip()) == (0, "square(5) = 25"), ran.stderr

    with serving(project / "app.py", tmp_path / "serve.log", cwd=project) as serve:
        answer = serve.get("my-shop-hello", "/?name=ada")
        assert answer.status_code == 200 and answer.json() == {"message": "Hello, ada!"}, serve.output()
        assert serve.get("my-shop-hello", "/docs").status_code == 200

    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_app.py"],
                           cwd=project, capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("# mine\n")
    result = toolkit_cli("init", str(tmp_path), "--name", "demo")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{tmp_path / 'app.py'} already exists; toolkit init never overwrites" in result.stderr
    assert (tmp_path / "app.py").read_text() == "# mine\n"
    assert not (tmp_path / "test_app.py").exists()

"""`toolkit.last_good`: a worker that starts after a broken edit imports the recorded version, as
if from its real path (``__file__``, tracebacks), writing no bytecode of it; elsewhere nothing changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.last_good import SNAPSHOT_ENV, SourceSnapshot

REPO = Path(__file__).resolve().parents[2]

# what a worker does: install the snapshot, then import the app by path (and the module it imports)
WORKER = '''
import json, sys, traceback
from toolkit import last_good
from toolkit.loader import import_path

last_good.install_from_environ(sys.argv[2])
app = import_path(sys.argv[1])
try:
    app.fail()
except ValueError:
    where = traceback.format_exc().strip().splitlines()[-2].strip()
print(json.dumps({"answer": app.answer(), "file": app.__file__, "helper_file": app.helpers.__file__,
                  "traceback_line": where}))
'''

APP = '''
import helpers

def answer():
    return helpers.VERSION

def fail():
    raise ValueError("v1 fails here")
'''


def _run_worker(app: Path, env: dict[str, str], app_name: str = "demo") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WORKER, str(app), app_name], cwd=app.parent, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO), **env})


def _project(tmp_path: Path) -> tuple[Path, Path]:
    app, helpers = tmp_path / "app.py", tmp_path / "helpers.py"
    app.write_text(APP)
    helpers.write_text('VERSION = "v1"\n')
    return app, helpers


def test_a_worker_imports_the_recorded_version_while_the_files_are_broken(tmp_path: Path) -> None:
    app, helpers = _project(tmp_path)
    record = tmp_path / "home" / "last-good.json"
    SourceSnapshot.take("demo", {"app": str(app), "helpers": str(helpers)}).write(record)
    app.write_text("def broken(:\n")  # the edit that does not load
    helpers.unlink()  # and a module it imported, gone
    ran = _run_worker(app, {SNAPSHOT_ENV: str(record)})
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout)
    assert seen["answer"] == "v1"
    assert seen["file"] == str(app) and seen["helper_file"] == str(helpers)  # the real paths
    assert seen["traceback_line"] == 'raise ValueError("v1 fails here")'  # the line that ran, not the disk's
    assert not list(tmp_path.rglob("*.pyc"))  # no bytecode of the recorded source next to other contents


def test_without_the_variable_a_process_imports_the_files_as_they_are(tmp_path: Path) -> None:
    app, helpers = _project(tmp_path)
    record = tmp_path / "last-good.json"
    SourceSnapshot.take("demo", {"app": str(app), "helpers": str(helpers)}).write(record)
    helpers.write_text('VERSION = "v2"\n')
    assert json.loads(_run_worker(app, {}).stdout)["answer"] == "v2"
    assert json.loads(_run_worker(app, {SNAPSHOT_ENV: str(record)}).stdout)["answer"] == "v1"
    missing = _run_worker(app, {SNAPSHOT_ENV: str(tmp_path / "none.json")})  # serve gone: the files as they are
    assert json.loads(missing.stdout)["answer"] == "v2"
    other = _run_worker(app, {SNAPSHOT_ENV: str(record)}, app_name="other")  # e.g. a `toolkit run` the app started
    assert json.loads(other.stdout)["answer"] == "v2"


def test_a_snapshot_leaves_out_what_it_cannot_record(tmp_path: Path) -> None:
    app, _helpers = _project(tmp_path)
    (tmp_path / "native.so").write_bytes(b"\x7fELF")
    snapshot = SourceSnapshot.take("demo", {"app": str(app), "native": str(tmp_path / "native.so"),
                                    "gone": str(tmp_path / "gone.py")})
    assert set(snapshot.modules) == {"app"}
    record = tmp_path / "record.json"
    snapshot.write(record)
    assert SourceSnapshot.read(record) == snapshot
    assert SourceSnapshot.read(tmp_path / "absent.json") is None


MODULE_WORKER = '''
import json, sys
from toolkit import last_good
from toolkit.loader import import_module_name

last_good.install_from_environ("demo")
app = import_module_name("pkg.app")
print(json.dumps({"answer": app.answer(), "package_path": list(sys.modules["pkg"].__path__)}))
'''


def test_a_module_target_and_its_package_come_from_the_record(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text('PREFIX = "pkg "\n')
    (package / "helpers.py").write_text('VERSION = "v1"\n')
    (package / "app.py").write_text("from pkg import PREFIX\nfrom pkg.helpers import VERSION\n\n"
                                    "def answer():\n    return PREFIX + VERSION\n")
    record = tmp_path / "record.json"
    SourceSnapshot.take("demo", {name: str(package / file) for name, file in (
        ("pkg", "__init__.py"), ("pkg.helpers", "helpers.py"), ("pkg.app", "app.py"))}).write(record)
    (package / "__init__.py").write_text("raise ImportError('half edited')\n")
    (package / "helpers.py").write_text("VERSION = (\n")
    ran = subprocess.run([sys.executable, "-c", MODULE_WORKER], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(REPO), SNAPSHOT_ENV: str(record)})
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout)
    assert seen == {"answer": "pkg v1", "package_path": [str(package)]}


def test_a_serve_removes_the_records_of_serves_that_were_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.serve.reload import ServedVersion

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          timeout=60)
    records = tmp_path / "serve"
    records.mkdir()
    killed = records / f"last-good-{int(gone.stdout)}.json"  # that process has exited
    alive = records / f"last-good-{os.getppid()}.json"  # the process that runs pytest is alive
    killed.write_text("{}")
    alive.write_text("{}")
    monkeypatch.delenv(SNAPSHOT_ENV, raising=False)
    version = ServedVersion(tmp_path)
    version.activate()
    assert os.environ[SNAPSHOT_ENV] == str(version.path)
    assert not killed.exists() and alive.exists()
    SourceSnapshot.take("demo", {}).write(version.path)
    version.discard()
    assert not version.path.exists()

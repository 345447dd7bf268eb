"""`runtime.volumes.readonly` without root: a process that is not root gets its read-only view through a user
namespace (the path a laptop takes).  Run as ``nobody`` through ``setpriv`` when the suite runs as root."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from volume_support import REPO

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from runtime.volumes.readonly import read_only_view, unavailable_reason
source = Path(sys.argv[2])
view = read_only_view(source)
try:
    (view / "written-through-the-view").write_text("no")
    refused = None
except OSError as exc:
    refused = exc.errno
(source / "written-beside").write_text("yes")  # the real directory stays writable
print(json.dumps({"uid": __import__("os").getuid(), "view": str(view), "reason": unavailable_reason(),
                  "refused": refused, "seen": sorted(p.name for p in view.iterdir())}))
"""


def _unprivileged() -> list[str]:
    """The command prefix that runs a stdlib Python as a user that is not root."""
    if os.geteuid() != 0:
        return [sys.executable]
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: no way to be an unprivileged user here")
    drop = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    for python in (sys.executable, "/usr/bin/python3"):
        if subprocess.run([*drop, python, "-c", "pass"], capture_output=True, timeout=30).returncode == 0:
            return [*drop, python]
    pytest.skip("no Python the user nobody may run")


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory anyone may write (pytest's tmp_path is private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="toolkit-ro-view-"))
    directory.chmod(0o777)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _sources(shared: Path) -> str:
    """A copy of the ``runtime`` package that ``nobody`` can read: the checkout may sit under a directory
    only root may enter (a CI clone in a private temporary directory)."""
    root = shared / "src"
    shutil.copytree(REPO / "runtime", root / "runtime", ignore=shutil.ignore_patterns("__pycache__"))
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return str(root)


def test_a_process_without_root_gets_a_read_only_view_through_a_user_namespace(shared: Path) -> None:
    source = shared / "vol"
    source.mkdir()
    source.chmod(0o777)
    (source / "weights.bin").write_text("w")
    done = subprocess.run([*_unprivileged(), "-c", PROBE, _sources(shared), str(source)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["uid"] != 0 and found["reason"] == ""
    assert found["refused"] == errno.EROFS
    assert found["seen"] == ["weights.bin", "written-beside"]  # the view shows the directory, live
    assert list(Path(found["view"]).iterdir()) == []  # nothing propagated to this namespace: an empty directory here


FALLBACK = """
import sys, threading
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from runtime.volumes.local import LocalVolumeStore
from runtime.volumes.mounts import mount
stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()  # a threaded process may not enter a user namespace
mount(LocalVolumeStore(sys.argv[2]), [(sys.argv[3], "weights", True, True)], isolate=True)
print(Path(sys.argv[3]).resolve())
"""


def test_where_the_kernel_refuses_a_local_read_only_mount_says_writes_would_reach_the_volume(shared: Path) -> None:
    done = subprocess.run([*_unprivileged(), "-c", FALLBACK, _sources(shared), str(shared / "volumes"),
                           str(shared / "w")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(shared / "volumes" / "weights")  # a plain link to the live volume
    assert "volume 'weights' is mounted read-only at " + str(shared / "w") in done.stderr
    assert "cannot refuse writes there (no private mount namespace here" in done.stderr
    assert "changes the volume for everyone" in done.stderr

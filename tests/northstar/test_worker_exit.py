"""A worker whose caller is already gone when its function fails to load exits quietly.

A public program's ``.map`` started several workers at once; the first one's load error ended the run, and
each later worker then printed a ``BrokenPipeError`` traceback of its own (it could not report its load
error to a caller that had stopped listening), burying the one error that mattered.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from toolkit.local.protocol import WorkerTarget


def test_a_worker_that_cannot_report_its_load_error_exits_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "broken_app.py").write_text("raise ImportError('needs a package the image lacks')\n")
    target = WorkerTarget(module="broken_app", source_file=str(tmp_path / "broken_app.py"), app_name="broken",
                          tag="f", params=(), max_inputs=1, timeout=10.0, sys_path=(str(tmp_path),))
    ours, theirs = socket.socketpair()
    ours.close()  # the caller has stopped listening before the worker reports
    env = {**os.environ, "TOOLKIT_WORKER": "1", "TOOLKIT_WORKER_FD": str(theirs.fileno())}
    done = subprocess.run([sys.executable, "-m", "toolkit.local.worker", target.to_json()], pass_fds=[theirs.fileno()],
                          env=env, capture_output=True, text=True, timeout=60)
    theirs.close()
    assert "BrokenPipeError" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr

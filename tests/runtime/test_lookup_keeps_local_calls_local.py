"""A process that looked up a deployed app still gets its local calls from the local store.

``FunctionCall.from_id`` asks the looked-up apps' call tables only for ids this machine's store does
not know.  Before, it asked them first, so once a looked-up app's table was gone (destroyed, or not
readable with these credentials) every local ``from_id(...).get()`` in the process failed with
DynamoDB's ResourceNotFoundException -- seen when an earlier test of the same process had looked up
an app on a moto server that was reset since.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from moto_support import aws_environ

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "tests" / "fixtures" / "apps"

SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import toolkit
from runtime.callmap import CallMap
from toolkit.deployed_apps import build_app

# an app 'deployed' whose call table does not exist (destroyed since the lookup, or never readable)
gone = CallMap(app="gone-app", region="us-east-1", calls_table="no-such-table-anywhere",
               payload_bucket="no-such-bucket", functions={}, classes={})
build_app(gone)

import calls_app
with calls_app.app.run():
    call = calls_app.square.spawn(7)
    print(json.dumps({"local": toolkit.FunctionCall.from_id(call.object_id).get(timeout=60)}))
"""


def test_a_local_call_is_read_locally_after_a_deployed_lookup(moto_endpoint: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TOOLKIT_"))}
    env.update(aws_environ(moto_endpoint), TOOLKIT_HOME=str(tmp_path / "home"), TOOLKIT_LOCAL_ENV="current",
               PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(APPS)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == '{"local": 49}', done.stdout

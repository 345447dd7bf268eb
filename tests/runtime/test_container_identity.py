"""A deployed container sets the platform's container variables before the user's module is imported,
as local workers do (tests/northstar flash_server): programs written for the platform read
``MODAL_TASK_ID`` at import or in ``@enter`` (the public sticky-routing server names its replica so)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP = '''
import json, os
import toolkit

app = toolkit.App("identity")
SEEN = {k: os.environ.get(k) for k in ("MODAL_TASK_ID", "MODAL_IS_REMOTE", "MODAL_ENVIRONMENT", "MODAL_REGION")}
if os.environ.get("TOOLKIT_MANIFEST"):  # imported by the runtime, as in a container
    print("at import:", json.dumps(SEEN))


@app.function()
def f():
    return SEEN


if __name__ == "__main__" and not os.environ.get("TOOLKIT_MANIFEST"):
    from toolkit.manifest import build_manifest

    print(json.dumps(build_manifest(app, environment="staging")))
'''
LOAD = "from runtime.deployment import load_deployment; from runtime.userapp import load_function; " \
       "load_function(load_deployment(tag='f'))"


def test_a_deployed_container_names_itself_before_the_users_module_is_imported(tmp_path: Path) -> None:
    (tmp_path / "identity_app.py").write_text(APP)
    own = {k: v for k, v in os.environ.items() if not k.startswith("MODAL_")}
    env = {**own, "PYTHONPATH": str(REPO)}
    built = subprocess.run([sys.executable, "identity_app.py"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=60, env=env)
    assert built.returncode == 0, built.stderr
    (tmp_path / "manifest.json").write_text(built.stdout)
    container = {**env, "TOOLKIT_MANIFEST": str(tmp_path / "manifest.json"), "TOOLKIT_APP_ROOT": str(tmp_path),
                 "AWS_REGION": "eu-west-3"}
    loaded = subprocess.run([sys.executable, "-c", LOAD], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env=container)
    assert loaded.returncode == 0, loaded.stderr
    (line,) = [line for line in loaded.stdout.splitlines() if line.startswith("at import:")]
    seen = json.loads(line.removeprefix("at import:"))
    assert seen["MODAL_TASK_ID"].startswith("ta-") and len(seen["MODAL_TASK_ID"]) == 27
    assert (seen["MODAL_IS_REMOTE"], seen["MODAL_ENVIRONMENT"], seen["MODAL_REGION"]) == ("1", "staging", "eu-west-3")

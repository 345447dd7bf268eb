"""Every listing takes --json (one JSON array on stdout) for scripts: tokens, Dicts, Queues, volumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cli_helpers import toolkit_cli

MAKE_STATE = '''
import toolkit

toolkit.Dict.from_name("prices", create_if_missing=True)["tea"] = 3
toolkit.Queue.from_name("jobs", create_if_missing=True).put("job-1")
volume = toolkit.Volume.from_name("assets", create_if_missing=True)
with volume.batch_upload() as batch:
    batch.put_file(__file__, "/scripts/make.py")
'''


def listed(*args: str, env: dict[str, str]) -> list[dict[str, object]]:
    result = toolkit_cli(*args, "--json", env=env)
    assert result.returncode == 0, (args, result.stderr)
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    return rows


def test_listings_print_json(tmp_path: Path) -> None:
    env = {"TOOLKIT_HOME": str(tmp_path / "home")}
    assert listed("token", "list", env=env) == []
    created = toolkit_cli("token", "create", env=env)
    key = created.stdout.splitlines()[0].removeprefix("Toolkit-Key: ")
    (token,) = listed("token", "list", env=env)
    assert token["key"] == key and "secret" not in json.dumps(token).lower()

    script = tmp_path / "make.py"
    script.write_text(MAKE_STATE)
    made = subprocess.run([sys.executable, str(script)], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    (prices,) = listed("dict", "list", env=env)
    assert (prices["name"], prices["ephemeral"]) == ("prices", False) and prices["created"]
    assert [q["name"] for q in listed("queue", "list", env=env)] == ["jobs"]
    assert listed("volume", "list", env=env) == [{"name": "assets"}]
    files = listed("volume", "ls", "assets", "/", "--recursive", env=env)
    entry = {row["path"]: row for row in files}["scripts/make.py"]
    assert entry["type"] == "file" and entry["size"] == len(MAKE_STATE.encode())

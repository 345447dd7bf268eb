"""``toolkit sandbox list/logs/exec/terminate`` as a user runs them: a second process, real containers."""

from __future__ import annotations

import json
import subprocess
import sys

import toolkit


def cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", "sandbox", *args], capture_output=True, text=True,
                          timeout=120, env=env, input=stdin)


def test_list_exec_logs_terminate(app, image, sandbox_env):
    sb = toolkit.Sandbox.create("sh", "-c", "echo started; echo warn >&2; sleep 120", app=app, image=image,
                                timeout=120, name="cli-one", tags={"team": "a"}, unencrypted_ports=[8080])
    listed = cli("list", "--json", "--tag", "team=a", env=sandbox_env)
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["id"], row["app"], row["name"], row["state"]) == (sb.object_id, "sandbox-tests", "cli-one", "running")
    assert row["tunnels"] == {"8080": sb.tunnels()[8080].url}
    table = cli("list", env=sandbox_env)
    assert sb.object_id in table.stdout and "cli-one" in table.stdout
    assert json.loads(cli("list", "--json", "--tag", "team=b", env=sandbox_env).stdout) == []

    ran = cli("exec", sb.object_id, "sh", "-c", "cat; echo to-err >&2; exit 4", env=sandbox_env, stdin="piped\n")
    assert (ran.returncode, ran.stdout, ran.stderr) == (4, "piped\n", "to-err\n")

    ended = cli("terminate", "--json", sb.object_id, env=sandbox_env)
    assert ended.returncode == 0, ended.stderr
    assert json.loads(ended.stdout)[0]["state"] == "terminated"
    logs = cli("logs", sb.object_id, env=sandbox_env)
    assert (logs.stdout, logs.stderr) == ("started\n", "warn\n")
    assert json.loads(cli("list", "--json", env=sandbox_env).stdout) == []
    assert sb.object_id in cli("list", "--all", env=sandbox_env).stdout


def test_unknown_id_is_a_named_error(sandbox_env):
    done = cli("exec", "sb-missing", "true", env=sandbox_env)
    assert done.returncode == 1 and "'sb-missing'" in done.stderr and "toolkit sandbox list" in done.stderr

"""``toolkit dict`` and ``toolkit queue`` against the local store (and one look at a deployed app's)."""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

import toolkit
from toolkit.cli import cli


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_dict_commands() -> None:
    d = toolkit.Dict.from_name("counters", create_if_missing=True)
    d.update({"hits": 3, ("a", 1): [1, 2]})
    assert _run("dict", "list")[1].startswith("counters\tcreated ")
    assert _run("dict", "items", "counters")[1].splitlines() == ["'hits': 3", "('a', 1): [1, 2]"]
    assert _run("dict", "get", "counters", "hits") == (0, "3\n")
    code, out = _run("dict", "get", "counters", "nope")
    assert code == 1 and "has no key 'nope'" in out
    assert _run("dict", "clear", "counters", "--yes")[0] == 0 and d.len() == 0
    assert _run("dict", "delete", "counters", "--yes")[0] == 0
    code, out = _run("dict", "get", "counters", "hits")
    assert code == 1 and "No Dict named 'counters'" in out
    assert "No dicts in the local store" in _run("dict", "list")[1]


def test_queue_commands() -> None:
    q = toolkit.Queue.from_name("jobs", create_if_missing=True)
    q.put_many([{"n": 1}, {"n": 2}])
    q.put("x", partition="p")
    assert _run("queue", "peek", "jobs", "-n", "5")[1].splitlines() == ["{'n': 1}", "{'n': 2}"]
    assert _run("queue", "len", "jobs") == (0, "2\n") and _run("queue", "len", "jobs", "--total") == (0, "3\n")
    assert _run("queue", "len", "jobs", "--partition", "p") == (0, "1\n")
    assert _run("queue", "clear", "jobs", "--yes")[0] == 0 and q.len(total=True) == 1  # the default partition only
    assert _run("queue", "clear", "jobs", "--all", "--yes")[0] == 0 and q.len(total=True) == 0
    assert _run("queue", "peek", "jobs")[1] == "Queue 'jobs' is empty.\n"
    assert _run("queue", "delete", "jobs", "--yes")[0] == 0
    assert "No queues" in _run("queue", "list")[1]


def test_the_commands_reach_a_deployed_apps_store(state_aws: tuple[str, str]) -> None:
    table, _ = state_aws
    toolkit.Dict.from_name("remote", create_if_missing=True)["k"] = "v"
    assert _run("dict", "get", "remote", "k") == (0, "'v'\n")
    code, out = _run("dict", "delete", "remote")  # asks first, naming where
    assert f"DynamoDB table {table}" in out and code == 1 and toolkit.Dict.from_name("remote")["k"] == "v"


def test_plan_prints_each_schedule_and_its_next_run(tmp_path: Path) -> None:
    """`toolkit plan` offline (no Pulumi CLI, no credentials), as tests/deploy runs it."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))
    from deploy_helpers import base_env, no_pulumi_path, run_cli

    result = run_cli(["plan", "examples/schedule.py"], base_env(tmp_path, no_pulumi_path(tmp_path)))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("aws:scheduler/schedule:Schedule  ") for line in lines)
    assert any(line.startswith("⏲ heartbeat: Period(minutes=1), next run 20") for line in lines), lines[-5:]
    assert any(line.startswith("⏲ weekday_report: Cron('0 9 * * 1-5', timezone='Europe/Paris'), next run ")
               for line in lines), lines[-5:]

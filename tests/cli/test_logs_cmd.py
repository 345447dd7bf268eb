"""`toolkit logs` reads CloudWatch Logs directly (a moto server): no Pulumi CLI, no stack state.

The log group names it reads are the ones the deploy declares: checked against `toolkit plan
--json`, which runs the infra program offline.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import boto3
from cli_helpers import toolkit_cli

GROUPS = {"square": "/aws/lambda/hello-main-eu-west-1-square",
          "countdown": "/aws/lambda/hello-main-eu-west-1-countdown"}


def no_pulumi_env(aws_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """No `pulumi` on PATH: only the directory of this Python (the machine has no Pulumi CLI either)."""
    import sys

    return {**aws_env, "TOOLKIT_HOME": str(tmp_path), "PATH": os.path.dirname(sys.executable)}


def put_events(endpoint: str, group: str, messages: list[str]) -> None:
    logs = boto3.client("logs", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2026/01/01/[$LATEST]abc")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="2026/01/01/[$LATEST]abc",
                        logEvents=[{"timestamp": now - 1000 + i, "message": m} for i, m in enumerate(messages)])


def test_logs_of_one_function_without_the_pulumi_cli(aws_env: dict[str, str], tmp_path: Path) -> None:
    put_events(aws_env["AWS_ENDPOINT_URL"], GROUPS["square"], ["START RequestId: 1", "squared 7"])
    result = toolkit_cli("logs", "examples/hello.py::square", env=no_pulumi_env(aws_env, tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == ["START RequestId: 1", "squared 7"]
    assert all(line.split(" ")[1] == "2026/01/01/[$LATEST]abc" for line in lines)


def test_logs_of_a_whole_app_are_merged_and_prefixed(aws_env: dict[str, str], tmp_path: Path) -> None:
    put_events(aws_env["AWS_ENDPOINT_URL"], GROUPS["square"], ["from square"])
    put_events(aws_env["AWS_ENDPOINT_URL"], GROUPS["countdown"], ["from countdown"])
    for command in (("logs", "examples/hello.py"), ("app", "logs", "examples/hello.py")):
        result = toolkit_cli(*command, env=no_pulumi_env(aws_env, tmp_path))
        assert result.returncode == 0, result.stderr
        assert sorted(line.split(" ")[0] + " " + line.rsplit(" ", 2)[-2] + " " + line.rsplit(" ", 1)[-1]
                      for line in result.stdout.splitlines()) == ["[countdown] from countdown", "[square] from square"]


def test_logs_of_an_app_not_deployed_say_so(aws_env: dict[str, str], tmp_path: Path) -> None:
    result = toolkit_cli("logs", "examples/hello.py::square", env=no_pulumi_env(aws_env, tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"No log group {GROUPS['square']} in eu-west-1" in result.stderr
    unknown = toolkit_cli("logs", "examples/hello.py::nope", env=no_pulumi_env(aws_env, tmp_path))
    assert unknown.returncode == 1 and "has no function 'nope'; its functions: countdown, square" in unknown.stderr


def test_log_group_names_are_the_ones_the_deploy_declares(tmp_path: Path) -> None:
    planned = toolkit_cli("plan", "examples/hello.py", "--json", env={"AWS_REGION": "eu-west-1",
                                                                      "TOOLKIT_HOME": str(tmp_path)})
    assert planned.returncode == 0, planned.stderr
    names = {r["inputs"].get("name") for r in json.loads(planned.stdout)["resources"] if "LogGroup" in r["type"]}
    assert set(GROUPS.values()) <= names

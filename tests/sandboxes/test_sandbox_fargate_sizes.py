"""RunTask gets a Fargate size for a sandbox's cpu=/memory= (tests/infra/test_sandbox_sizes.py has why)."""

from __future__ import annotations

import boto3

from infra.sizing import is_fargate_size


def test_run_task_overrides_are_a_size_fargate_runs(sandboxes):
    # examples/sandbox_code_runner.py's request: 0.5 CPU, 256 MiB (no Fargate size has 256 MiB)
    sb = sandboxes.create("sh", "-c", "sleep 60", app="demo", timeout=60, cpu=0.5, memory=256)
    try:
        task = boto3.client("ecs").describe_tasks(cluster="demo", tasks=[sb.record["task"]])["tasks"][0]
        cpu, memory = int(task["overrides"]["cpu"]), int(task["overrides"]["memory"])
        assert is_fargate_size(cpu, memory) and (cpu, memory) == (512, 1024)
    finally:
        sb.terminate()

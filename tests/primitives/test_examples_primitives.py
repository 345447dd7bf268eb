"""The schedule, Dict and Queue examples run end to end with ``toolkit run`` (real worker processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run_example(name: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "toolkit.cli", "run", f"examples/{name}.py", *args], cwd=REPO,
                            env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_schedule_example_shows_next_runs_and_runs_once() -> None:
    out = _run_example("schedule")
    assert "heartbeat: Period(minutes=1), next run " in out
    assert "weekday_report: Cron('0 9 * * 1-5', timezone='Europe/Paris'), next run " in out
    assert "heartbeat now -> 1" in out and "weekday_report now -> 1 heartbeats so far" in out


def test_dict_counter_example_merges_what_every_worker_wrote() -> None:
    out = _run_example("dict_counter")
    assert "words per document: [9, 7, 6]" in out and "documents counted: 3" in out
    assert "top words: {'the': 5, 'dog': 3, 'fox': 2}" in out


def test_queue_pipeline_example_does_every_job_exactly_once() -> None:
    out = _run_example("queue_pipeline", "--jobs", "30")
    assert "results: 30 sum of squares: 8555" in out  # the example also asserts each job ran once

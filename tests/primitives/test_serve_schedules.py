"""Schedules under a real ``toolkit serve``: runs arrive within their period; --no-schedules stops them."""

from __future__ import annotations

import queue
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import toolkit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
from serving import Served  # noqa: E402 - the serve tests' real-subprocess harness

TICKER = Path(__file__).resolve().parent / "apps" / "ticker.py"


WINDOW_S = 5.0  # runs are counted over this long a window of the 1 s Period


@dataclass
class Recorded:
    runs: list[dict[str, Any]]  # every run reported, in order: those in the window, then the first after it
    log: str


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """One serve of the ticker for the tests below (a serve and its first run take seconds): its runs
    from the first until one past a WINDOW_S window. Bounded: at most 60 s of waiting in all."""
    with pytest.MonkeyPatch.context() as env:  # a home of its own: it outlives each test's
        env.setenv("TOOLKIT_HOME", str(tmp_path_factory.mktemp("ticker-home")))
        for name in ("TOOLKIT_STATE_TABLE", "TOOLKIT_STATE_BUCKET"):
            env.delenv(name, raising=False)
        ticks = toolkit.Queue.from_name("ticks", create_if_missing=True)
        served = Served(TICKER)
        try:
            runs = [ticks.get(timeout=20)]  # bounded: a missing run fails, never hangs
            window_end, deadline = runs[0]["at"] + WINDOW_S, time.monotonic() + 40
            while time.monotonic() < deadline and runs[-1]["at"] < window_end:
                runs.append(ticks.get(timeout=20))
        finally:
            served.stop()
    return Recorded(runs, served.output())


def test_a_period_schedule_runs_under_serve_once_per_period(recorded: Recorded) -> None:
    runs = recorded.runs[:3]
    assert len(runs) == 3, recorded.runs
    gaps = [b["at"] - a["at"] for a, b in zip(runs, runs[1:], strict=False)]
    assert all(gap > 0.5 for gap in gaps), gaps  # one run per period, not a burst
    assert len({r["pid"] for r in runs}) == 3  # each run is its own process, as each deployed run is
    assert "tick runs on Period(seconds=1); next run" in recorded.log and "scheduled run 1 finished" in recorded.log


def test_a_period_schedule_runs_about_once_per_period_in_a_bounded_window(recorded: Recorded) -> None:
    """Runs counted by their own start times over a 5 s window of a 1 s Period: neither missed
    periods (under 3) nor a burst (over 7)."""
    window_end = recorded.runs[0]["at"] + WINDOW_S
    assert recorded.runs[-1]["at"] >= window_end, recorded.runs  # a run after the window: every run in it reported
    starts = [run["at"] for run in recorded.runs if run["at"] < window_end]  # (runs start in order)
    assert 3 <= len(starts) <= 7, starts


def test_no_schedules_turns_them_off() -> None:
    ticks = toolkit.Queue.from_name("ticks", create_if_missing=True)
    served = Served(TICKER, "--no-schedules")
    try:
        assert _nothing_within(ticks, 3.0)  # three periods pass without a run
    finally:
        served.stop()
    assert "runs on" not in served.output()


def _nothing_within(ticks: toolkit.Queue, seconds: float) -> bool:
    try:
        ticks.get(timeout=seconds)
    except queue.Empty:
        return True
    return False

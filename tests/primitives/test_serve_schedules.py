"""Schedules under a real ``toolkit serve``: runs arrive within their period; --no-schedules stops them."""

from __future__ import annotations

import queue
import sys
import time
from pathlib import Path

import toolkit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
from serving import Served  # noqa: E402 - the serve tests' real-subprocess harness

TICKER = Path(__file__).resolve().parent / "apps" / "ticker.py"


def test_a_period_schedule_runs_under_serve_once_per_period() -> None:
    ticks = toolkit.Queue.from_name("ticks", create_if_missing=True)
    served = Served(TICKER)
    try:
        runs = [ticks.get(timeout=20) for _ in range(3)]  # bounded: a missing run fails, never hangs
    finally:
        served.stop()
    gaps = [b["at"] - a["at"] for a, b in zip(runs, runs[1:], strict=False)]
    assert all(gap > 0.5 for gap in gaps), gaps  # one run per period, not a burst
    assert len({r["pid"] for r in runs}) == 3  # each run is its own process, as each deployed run is
    log = served.output()
    assert "tick runs on Period(seconds=1); next run" in log and "scheduled run 1 finished" in log


def test_a_period_schedule_runs_about_once_per_period_in_a_bounded_window() -> None:
    """Runs counted by their own start times over a 5 s window of a 1 s Period: neither missed
    periods (under 3) nor a burst (over 7). Bounded: at most 60 s of waiting in all."""
    ticks = toolkit.Queue.from_name("ticks", create_if_missing=True)
    served = Served(TICKER)
    try:
        first = ticks.get(timeout=20)["at"]
        window_end, starts = first + 5.0, [first]
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            at = ticks.get(timeout=20)["at"]
            if at >= window_end:
                break  # a run after the window: every run inside it has reported (runs start in order)
            starts.append(at)
    finally:
        served.stop()
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

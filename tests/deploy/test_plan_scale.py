"""The infra program's size grows by a constant number of resources per function."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench_infra import plan_resources  # noqa: E402


def test_resources_per_function_are_constant() -> None:
    _, at_4, _ = plan_resources(4)
    _, at_12, _ = plan_resources(12)
    _, at_28, _ = plan_resources(28)
    per_function = (at_12 - at_4) / 8
    assert per_function == (at_28 - at_12) / 16  # linear: nothing per pair of functions
    shared = at_4 - per_function * 4
    assert 0 < shared < per_function * 4  # app-wide resources (table, bucket, cluster...) are declared once

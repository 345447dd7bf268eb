"""``infra/__main__.py`` (what ``pulumi up`` runs) reads the documented config keys."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pulumi
from infra_mocks import RecordingMocks
from infra_support import images_for, load_fixture
from pulumi.runtime.config import set_all_config

MAIN = Path(__file__).parents[2] / "infra" / "__main__.py"


def test_main_reads_stack_config_and_exports_outputs() -> None:
    manifest = load_fixture("plain")
    mocks = RecordingMocks()
    # the project `toolkit deploy` gives this app (toolkit/deploy/names.py)
    pulumi.runtime.set_mocks(mocks, project="toolkit-plain-app", stack="prod", preview=False)
    set_all_config({
        "toolkit:manifest": json.dumps(manifest),
        "toolkit:images": json.dumps(images_for(manifest)),
        "toolkit:logRetentionDays": "14",
    })

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(MAIN), run_name="__main__")

    try:
        program()
    finally:
        set_all_config({})
    assert mocks.one("aws:lambda/function:Function", "square").inputs["name"] == "plain-app-prod-square"
    assert {g.inputs["retentionInDays"] for g in mocks.of_type("aws:cloudwatch/logGroup:LogGroup")} == {14}

"""Mock runtime set before infra is imported (DESIGN §6), and a runner for the program."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from infra_mocks import OptionsMonitor, RecordingMocks

pulumi.runtime.set_mocks(RecordingMocks(), project="toolkit", stack="test", preview=False)

from infra.config import Settings  # noqa: E402
from infra.stack import DeployResult, deploy  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
DIGEST = "sha256:" + "ab" * 32


def load_fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


def images_for(manifest: dict[str, Any]) -> dict[str, str]:
    repo = "123456789012.dkr.ecr.us-east-1.amazonaws.com/toolkit/app"
    return {f["tag"]: f"{repo}@{DIGEST}" for f in manifest["functions"]}


def settings_for(manifest: dict[str, Any], **overrides: Any) -> Settings:
    return Settings(**{"manifest": manifest, "stack": "test", "images": images_for(manifest), **overrides})


@dataclass
class Run:
    mocks: RecordingMocks
    result: DeployResult
    outputs: dict[str, Any]


def run_program(settings: Settings, check: Callable[[dict[str, Any]], None] | None = None,
                mocks: RecordingMocks | None = None) -> Run:
    """Run the program under fresh mocks (or ``mocks``); resolve its outputs (``check`` runs inside apply)."""
    mocks = _fresh(mocks or RecordingMocks())
    holder: dict[str, Any] = {}

    def resolved(outputs: dict[str, Any]) -> None:
        holder["outputs"] = outputs
        if check is not None:
            check(outputs)

    @pulumi.runtime.test
    def program() -> pulumi.Output[None]:
        holder["result"] = deploy(settings)
        return pulumi.Output.from_input(holder["result"].outputs).apply(resolved)

    program()
    return Run(mocks=mocks, result=holder["result"], outputs=holder["outputs"])


def run_component(build: Callable[[], Any]) -> RecordingMocks:
    """``build()`` run as a Pulumi program under fresh mocks (it declares components and returns an output, whose
    ``apply`` checks run before this returns); the mocks, holding every resource it declared."""
    mocks = _fresh(RecordingMocks())

    @pulumi.runtime.test
    def program() -> Any:
        return build()

    program()
    return mocks


def _fresh(mocks: RecordingMocks) -> RecordingMocks:
    pulumi.runtime.set_mocks(mocks, project="toolkit", stack="test", preview=False, monitor=OptionsMonitor(mocks))
    return mocks

"""Every example app: its manifest (built by the SDK, as ``toolkit manifest`` does) deploys
under the mock runtime, and every function ends up with its runner and worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from infra_support import run_program, settings_for

from toolkit.loader import find_app, import_path
from toolkit.manifest import build_manifest

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.py"))


def test_there_are_examples() -> None:
    assert EXAMPLES, "examples/*.py not found"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_deploys(path: Path) -> None:
    manifest = build_manifest(find_app(import_path(str(path))))
    run = run_program(settings_for(manifest, base_domain="toolkit.example.com"))
    functions = run.outputs["functions"]
    assert set(functions) == {f["tag"] for f in manifest["functions"]}
    for fn in manifest["functions"]:
        out = functions[fn["tag"]]
        assert out["state_machine_arn"].endswith("-worker")
        assert out.get("function_arn") or out.get("task_definition_arn")
        if fn["web"] is not None:
            assert out["url"] == f"https://{fn['web']['host']}.toolkit.example.com"

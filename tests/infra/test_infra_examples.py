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


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_without_a_domain_every_printed_url_routes_to_its_endpoint(path: Path) -> None:
    """Issue 14 finding 2: the URL `toolkit deploy` prints must reach the function, not the ALB's 404."""
    manifest = build_manifest(find_app(import_path(str(path))))
    run = run_program(settings_for(manifest))
    listeners = {int(r.inputs["port"]): r.inputs for r in run.mocks.of_type("aws:lb/listener:Listener")}
    for tag, url in run.outputs["endpoints"].items():
        if ".elb.amazonaws.com:" in url:  # an ECS endpoint: its own listener, forwarding to its group
            listener = listeners[int(url.rsplit(":", 1)[1])]
            assert listener["defaultActions"][0]["type"] == "forward", (tag, url)
        else:
            assert url.startswith("https://") and ".execute-api." in url, (tag, url)
    ecs_endpoints = [f["tag"] for f in manifest["functions"] if f["web"] and (
        f["backend"] != "lambda" or f["kind"] == "web_server" or f["resources"]["gpu"])]
    assert all(".elb.amazonaws.com:" in run.outputs["endpoints"][t] for t in ecs_endpoints)
    if path.stem == "web_server":  # the example issue 14 names (gpu_job has no web endpoint)
        assert ecs_endpoints

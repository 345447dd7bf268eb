"""Module-level ``with_options`` variants are deployed as functions of their own (issue 16 item 4):
the manifest lists each under its deployed tag, and the plan gives it its own runner and worker,
sized by the variant; calls inside AWS name that tag (`toolkit.variants.deployed_tag`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra_support import run_program, settings_for

REPO = Path(__file__).resolve().parents[2]
APP = '''
import json, toolkit
from toolkit.variants import deployed_tag

app = toolkit.App("variants")

@app.function(memory=512)
def embed(x):
    return x

big = embed.with_options(gpu="A10G", memory=16384)
slow = embed.with_options(timeout=1200)
same = embed.with_options(memory=512)  # no change: the function itself

@app.cls()
class Model:
    @toolkit.method()
    def predict(self, x):
        return x

Large = Model.with_options(memory=4096)

if __name__ == "__main__":
    from toolkit.manifest import build_manifest
    tags = {"big": deployed_tag(big.spec), "slow": deployed_tag(slow.spec), "same": deployed_tag(same.spec),
            "large": deployed_tag(Large().predict.spec)}
    print(json.dumps({"tags": tags, "manifest": build_manifest(app)}))
'''


def _built(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "variants_app.py").write_text(APP)
    result = subprocess.run([sys.executable, "variants_app.py"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    built: dict[str, Any] = json.loads(result.stdout)
    return built


def test_variants_reach_the_manifest_under_their_own_tags(tmp_path: Path) -> None:
    built = _built(tmp_path)
    tags, entries = built["tags"], {f["tag"]: f for f in built["manifest"]["functions"]}
    assert tags["same"] == "embed"  # options equal to the function's: no second deployment
    assert set(entries) == {"embed", "Model.predict", tags["big"], tags["slow"], tags["large"]}
    assert tags["big"].startswith("embed~") and tags["large"].startswith("Model.predict~")
    big, slow = entries[tags["big"]], entries[tags["slow"]]
    assert (big["name"], big["backend"], big["resources"]["gpu"], big["resources"]["memory"]) == \
        ("embed", "gpu", "A10G", 16384)
    assert (slow["backend"], slow["resources"]["timeout"]) == ("ecs", 1200)  # past Lambda's 15 minutes
    assert entries[tags["large"]]["cls"]["name"] == "Model" and entries[tags["large"]]["resources"]["memory"] == 4096


def test_each_variant_gets_its_own_sized_runner_worker_and_call_target(tmp_path: Path) -> None:
    built = _built(tmp_path)
    tags, manifest = built["tags"], built["manifest"]
    run = run_program(settings_for(manifest))
    lambdas = {r.inputs["name"]: r.inputs for r in run.mocks.of_type("aws:lambda/function:Function")}
    assert lambdas["variants-test-embed"]["memorySize"] == 512
    large = next(v for k, v in lambdas.items() if k.startswith("variants-test-model-predict-"))
    assert large["memorySize"] == 4096
    machines = {r.inputs["name"] for r in run.mocks.of_type("aws:sfn/stateMachine:StateMachine")}
    assert len(machines) == 5  # one worker each: the function, the method and the three variants
    gpu_tasks = [json.loads(r.inputs["containerDefinitions"])[0] for r in run.mocks.of_type(
        "aws:ecs/taskDefinition:TaskDefinition")]
    gpu = [c for c in gpu_tasks if any(req.get("type") == "GPU" for req in c.get("resourceRequirements") or [])]
    assert len(gpu) == 1 and {e["name"]: e["value"] for e in gpu[0]["environment"]}["TOOLKIT_FUNCTION"] == tags["big"]
    env = lambdas["variants-test-embed"]["environment"]["variables"]
    targets = json.loads(env["TOOLKIT_FUNCTION_TARGETS"])
    assert {tags["big"], tags["slow"], tags["large"]} <= set(targets)  # the function may call its variants
    assert targets[tags["big"]]["lambda_arn"] is None  # GPU: spawn the worker and wait
    assert run.outputs["functions"][tags["big"]]["backend"] == "gpu"


def test_the_runtime_finds_a_variants_code_by_its_deployed_tag(tmp_path: Path) -> None:
    built = _built(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps(built["manifest"]))
    code = ("import sys; from runtime.deployment import load_deployment; from runtime.userapp import load_function; "
            "fn = load_function(load_deployment(tag=sys.argv[1])); print(type(fn).__name__)")
    for tag, kind in ((built["tags"]["big"], "PlainFunction"), (built["tags"]["large"], "MethodFunction")):
        result = subprocess.run([sys.executable, "-c", code, tag], cwd=tmp_path, capture_output=True, text=True,
                                timeout=60, env={**os.environ, "PYTHONPATH": str(REPO),
                                                 "TOOLKIT_MANIFEST": str(tmp_path / "manifest.json"),
                                                 "TOOLKIT_APP_ROOT": str(tmp_path)})
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == kind  # (the module, built as __main__, prints first)

"""Images used only by sandboxes are built and planned by the deploy (docs/sandboxes.md, "The image"):
the manifest lists every module-level image (and ``App(image=)``) no function uses, the image plan
builds each under its ``toolkit:images`` key, and with ``toolkit:sandboxes`` each gets a task definition
that ``Sandbox.create(image=...)`` runs.  Before, such an image was an "unplanned image" on AWS."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infra"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))
from deploy_helpers import base_env, no_pulumi_path, run_cli  # noqa: E402
from infra_mocks import parse_json  # noqa: E402
from infra_support import images_for, load_fixture, run_program, settings_for  # noqa: E402

import toolkit  # noqa: E402
from infra.config import ConfigError  # noqa: E402
from runtime.manifest import load, sandbox_image_key  # noqa: E402
from toolkit.deploy.errors import DeployError  # noqa: E402
from toolkit.deploy.images import check_images, for_this_deploy  # noqa: E402
from toolkit.deploy.offline import placeholder_images  # noqa: E402
from toolkit.deploy.stack_config import SANDBOXES_ENV  # noqa: E402
from toolkit.images.plan import PlanOptions, plan_app  # noqa: E402

TASK_DEF = "aws:ecs/taskDefinition:TaskDefinition"
REPO = Path(__file__).resolve().parents[2]
APP = '''
import toolkit

app = toolkit.App("sbimages", image=toolkit.Image.debian_slim().pip_install("fastapi[standard]"))
fn_image = toolkit.Image.debian_slim().pip_install("requests")
sandbox_image = toolkit.Image.debian_slim().pip_install("numpy")
LANGUAGES = {"node": toolkit.Image.debian_slim().apt_install("nodejs")}


@app.function(image=fn_image)
def uses_fn_image() -> int:
    return 1


@app.function()
def uses_app_image() -> int:
    inner = toolkit.Image.debian_slim().pip_install("made-at-run-time")  # not knowable: not declared
    return len(inner.steps)
'''


def _hash(image: toolkit.Image) -> str:
    return image.spec_hash


FN_IMAGE = _hash(toolkit.Image.debian_slim().pip_install("requests"))
APP_IMAGE = _hash(toolkit.Image.debian_slim().pip_install("fastapi[standard]"))
SANDBOX_ONLY = sorted([_hash(toolkit.Image.debian_slim().pip_install("numpy")),
                       _hash(toolkit.Image.debian_slim().apt_install("nodejs")),
                       _hash(toolkit.Image.debian_slim())])  # what Sandbox.create() without image= runs


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("sbimages")
    (root / "app.py").write_text(APP)
    result = subprocess.run([sys.executable, "-m", "toolkit.cli", "manifest", "app.py"], cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    data["_root"] = str(root)
    return data


def _without_root(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k != "_root"}


def test_module_level_images_no_function_uses_are_the_manifests_sandbox_images(manifest):
    hashes = [i["spec_hash"] for i in manifest["sandbox_images"]]
    assert hashes == SANDBOX_ONLY  # the functions' images (fn_image, the App's) are not repeated
    assert {f["image"]["spec_hash"] for f in manifest["functions"]} == {FN_IMAGE, APP_IMAGE}
    assert [i.spec_hash for i in load(_without_root(manifest)).sandbox_images] == SANDBOX_ONLY


def test_the_image_plan_builds_each_sandbox_only_image_under_its_key(manifest):
    plans = plan_app(_without_root(manifest), PlanOptions(root=Path(manifest["_root"])))
    keyed = sorted(tag for p in plans for tag in p.functions if tag.startswith("sandbox-image:"))
    assert keyed == [sandbox_image_key(h) for h in SANDBOX_ONLY]
    sandbox_plan = next(p for p in plans if p.functions == (sandbox_image_key(SANDBOX_ONLY[0]),))
    assert "toolkit-runtime/runtime/sandbox_agent.py" in sandbox_plan.context.files  # with toolkit's runtime: the agent
    assert len(plans) == 5  # two function images, three sandbox-only images


def test_a_deploy_needs_the_sandbox_images_only_with_sandboxes_on(manifest, monkeypatch):
    data = _without_root(manifest)
    functions_only = {f["tag"]: "repo@sha256:" + "a" * 64 for f in data["functions"]}
    monkeypatch.delenv(SANDBOXES_ENV, raising=False)
    assert check_images(data, functions_only, "the build") == functions_only
    assert set(placeholder_images(data)) == set(functions_only)
    monkeypatch.setenv(SANDBOXES_ENV, "true")
    with pytest.raises(DeployError, match=r"has no image for sandbox-image:" + SANDBOX_ONLY[0]):
        check_images(data, functions_only, "the build")
    keys = {sandbox_image_key(h): "repo@sha256:" + "b" * 64 for h in SANDBOX_ONLY}
    assert check_images(data, {**functions_only, **keys}, "the build") == {**functions_only, **keys}
    assert set(placeholder_images(data)) == set(functions_only) | set(keys)


def _with_sandbox_image(key: str) -> dict[str, Any]:
    manifest = load_fixture("web")
    manifest["sandbox_images"] = [{"base": {"kind": "debian_slim", "python_version": "3.11"}, "steps": [],
                                   "spec_hash": key}]
    return manifest


def test_a_sandbox_only_image_gets_a_task_definition_of_its_own():
    key = "c" * 64
    manifest = _with_sandbox_image(key)
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/toolkit/app@sha256:" + "cd" * 32
    run = run_program(settings_for(manifest, sandboxes=True,
                                   images={**images_for(manifest), sandbox_image_key(key): uri}))
    task_definition = run.outputs["sandboxes"]["images"][key]
    [planned] = [t for t in run.mocks.of_type(TASK_DEF) if t.inputs["family"].endswith(f"-sandbox-{key[:12]}")]
    assert task_definition.split("/")[-1].startswith(planned.inputs["family"])
    [container] = parse_json(planned.inputs["containerDefinitions"])
    assert container["image"] == uri and container["entryPoint"][:3] == ["python3", "-m", "runtime.sandbox_agent"]


def test_a_sandbox_only_image_missing_from_the_images_is_named():
    key = "d" * 64
    with pytest.raises(ConfigError, match=r"sandbox image im-dddddddddddddddddddddddd .*sandbox-image:d{64}"):
        run_program(settings_for(_with_sandbox_image(key), sandboxes=True))


def test_toolkit_plan_of_the_code_runner_plans_its_sandbox_only_image(tmp_path):
    """examples/sandbox_code_runner.py passes a module-level image that no function uses to Sandbox.create."""
    env = {**base_env(tmp_path, no_pulumi_path(tmp_path)), SANDBOXES_ENV: "true"}
    result = run_cli(["plan", "examples/sandbox_code_runner.py", "--json"], env, cwd=REPO, timeout=240)
    assert result.returncode == 0, result.stderr
    families = [r["inputs"].get("family", "") for r in json.loads(result.stdout)["resources"] if r["type"] == TASK_DEF]
    wanted = _hash(toolkit.Image.debian_slim())[:12]
    assert any(f.endswith(f"-sandbox-{wanted}") for f in families), families


def test_sandbox_images_are_built_only_with_the_switch(manifest, monkeypatch):
    """`toolkit deploy` and `toolkit build` plan images from `for_this_deploy(manifest)`."""
    options = PlanOptions(root=Path(manifest["_root"]))
    monkeypatch.delenv(SANDBOXES_ENV, raising=False)
    off = plan_app(for_this_deploy(_without_root(manifest)), options)
    assert [p.functions for p in off if any(t.startswith("sandbox-image:") for t in p.functions)] == []
    monkeypatch.setenv(SANDBOXES_ENV, "true")
    on = plan_app(for_this_deploy(_without_root(manifest)), options)
    assert len(on) == len(off) + 3

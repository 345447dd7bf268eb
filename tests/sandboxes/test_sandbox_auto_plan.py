"""A program that creates sandboxes deploys them without a switch (docs/sandboxes.md, "Turning it on"):
the manifest records whether the app's code names ``Sandbox`` and the deploy plans the AWS side of
sandboxes from it; ``TOOLKIT_SANDBOXES=true/false`` still decides when set.  Before, a program written
for the hosted platform that calls ``modal.Sandbox.create`` deployed without sandboxes and failed at
its first create."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runtime.manifest import load
from toolkit.deploy.errors import DeployError
from toolkit.deploy.stack_config import SANDBOXES_ENV, sandboxes_planned, stack_config
from toolkit.deploy.target import Target
from toolkit.loader import AppRef, load_app
from toolkit.manifest import build_manifest

REPO = Path(__file__).resolve().parents[2]

SANDBOX_APP = """
import toolkit as modal

app = modal.App("{name}")


@app.function()
def run(code: str) -> str:
    sb = modal.Sandbox.create("python", "-c", code, app=app)
    return sb.stdout.read()
"""

QUIET_APP = '''
import toolkit

app = toolkit.App("{name}")


@app.function()
def hello() -> str:
    # a Sandbox named in a comment, and in a string, is not a use
    return "no Sandbox here"
'''

IMPORTED_APP = """
from toolkit import App, Sandbox

app = App("{name}")


@app.function()
def run() -> int:
    return Sandbox.create("true", app=app).wait() or 0
"""


def _manifest(tmp_path: Path, source: str, name: str) -> dict:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source.format(name=name)))
    ref = AppRef.parse(str(path))
    return build_manifest(load_app(ref), source=ref.source())


@pytest.mark.parametrize(("source", "uses"), [(SANDBOX_APP, True), (IMPORTED_APP, True), (QUIET_APP, False)],
                         ids=["attribute", "imported", "comment-and-string"])
def test_the_manifest_records_whether_the_code_names_sandbox(tmp_path, source, uses):
    name = f"auto{abs(hash((source, str(tmp_path)))) % 10**8}"
    assert load(_manifest(tmp_path, source, name)).uses_sandboxes is uses


def test_the_example_code_runner_deploys_its_sandboxes_without_a_switch(monkeypatch):
    monkeypatch.delenv(SANDBOXES_ENV, raising=False)
    ref = AppRef.parse(str(REPO / "examples" / "sandbox_code_runner.py"))
    manifest = build_manifest(load_app(ref), source=ref.source())
    assert stack_config(manifest, Target("aws", "eu-west-1"))["toolkit:sandboxes"] == "true"


def test_the_switch_decides_when_set_and_a_bad_value_is_named(tmp_path, monkeypatch):
    uses = _manifest(tmp_path, SANDBOX_APP, "switchuses")
    quiet = _manifest(tmp_path, QUIET_APP, "switchquiet")
    monkeypatch.delenv(SANDBOXES_ENV, raising=False)
    assert (sandboxes_planned(uses), sandboxes_planned(quiet)) == (True, False)
    monkeypatch.setenv(SANDBOXES_ENV, "false")
    assert sandboxes_planned(uses) is False
    assert stack_config(uses, Target("aws", "eu-west-1"))["toolkit:sandboxes"] == ""
    monkeypatch.setenv(SANDBOXES_ENV, "TRUE")
    assert sandboxes_planned(quiet) is True
    monkeypatch.setenv(SANDBOXES_ENV, "yes please")
    with pytest.raises(DeployError, match=r"TOOLKIT_SANDBOXES='yes please' is neither true nor false"):
        sandboxes_planned(quiet)

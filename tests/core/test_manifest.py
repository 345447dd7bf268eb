"""`toolkit manifest`: versioned, deterministic JSON, no secret values, every loading style."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from core_helpers import REPO, toolkit_cli

APPS = REPO / "tests" / "fixtures" / "apps"
FIXTURES = REPO / "tests" / "fixtures"


def test_manifest_is_deterministic_across_processes() -> None:
    first = toolkit_cli("manifest", "examples/streaming.py")
    second = toolkit_cli("manifest", "examples/streaming.py")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    data = json.loads(first.stdout)
    assert data["schema_version"] == 1
    tags = [f["tag"] for f in data["functions"]]
    assert tags == sorted(tags)
    assert json.dumps(data, indent=2, sort_keys=True) + "\n" == first.stdout


def test_manifest_shape_for_web_and_classes() -> None:
    data = json.loads(toolkit_cli("manifest", "examples/parametrized.py").stdout)
    (files,) = data["functions"]
    assert files["tag"] == "Server.files" and files["kind"] == "web_server"
    assert files["cls"] == {"name": "Server", "parameters": [{"name": "root", "type": "str", "default": "."}]}
    assert files["backend"] == "ecs"  # web_server is long-lived: not Lambda
    assert files["scaling"]["max_inputs"] == 100
    assert files["web"]["port"] == 8000 and files["web"]["host"] == "default--param-server-server-files"
    gpu = json.loads(toolkit_cli("manifest", "examples/gpu_job.py").stdout)["functions"]
    assert {f["tag"]: f["backend"] for f in gpu} == {"Embedder.embed": "gpu", "describe_device": "gpu"}
    assert gpu[1]["retries"]["max_retries"] == 2


def test_manifest_never_contains_secret_values() -> None:
    result = toolkit_cli("manifest", str(APPS / "secret_app.py"))
    assert result.returncode == 0, result.stderr
    assert "hunter2-value" not in result.stdout
    (fn,) = json.loads(result.stdout)["functions"]
    assert [s["source"] for s in fn["secrets"]] == ["named", "dict"]
    assert fn["secrets"][1]["keys"] == ["TOKEN"]
    assert fn["web"]["custom_domains"] == ["api.example.com"] and fn["web"]["requires_proxy_auth"]


def test_ephemeral_and_environment_labels() -> None:
    result = toolkit_cli("manifest", "examples/query_params.py", "--ephemeral", "--env", "staging",
                         env={"TOOLKIT_WORKSPACE": "ecorp"})
    web = json.loads(result.stdout)["functions"][0]["web"]
    assert web["host"] == "ecorp-staging--web-endpoint-square-dev"


def test_loading_styles(tmp_path: Path) -> None:
    by_name = json.loads(toolkit_cli("manifest", str(APPS / "two_apps.py") + "::second").stdout)
    assert by_name["app"]["name"] == "second"
    by_module = toolkit_cli("manifest", "-m", "pkgapp.inner.service", cwd=FIXTURES)
    assert by_module.returncode == 0, by_module.stderr
    assert json.loads(by_module.stdout)["app"]["source"] == {
        "kind": "module", "module": "pkgapp.inner.service", "path": None, "app_variable": None}
    by_path = toolkit_cli("manifest", "pkgapp/inner/service.py", cwd=FIXTURES)  # relative import inside a package
    assert by_path.returncode == 0, by_path.stderr


@pytest.mark.parametrize("args,message", [
    (["nope.py"], "Error: No such file: 'nope.py'."),
    ([str(APPS / "two_apps.py")], "Cannot tell which App to use"),
    ([str(APPS / "two_apps.py") + "::third"], "has no App called 'third'; it defines first, second"),
    (["-m", "no_such_module_xyz"], "No module named 'no_such_module_xyz' on sys.path"),
    ([str(APPS / "import_error_app.py")], "could not import what it needs"),
    ([str(APPS / "syntax_error_app.py")], "syntax error"),
])
def test_load_errors_are_one_line_and_distinct(args: list[str], message: str) -> None:
    result = toolkit_cli("manifest", *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_import_error_names_the_missing_module_and_line() -> None:
    result = toolkit_cli("manifest", str(APPS / "import_error_app.py"))
    assert "this_package_does_not_exist_anywhere" in result.stderr
    assert "import_error_app.py:1" in result.stderr


def test_every_example_has_a_manifest() -> None:
    for example in sorted((REPO / "examples").glob("*.py")):
        result = toolkit_cli("manifest", str(example.relative_to(REPO)))
        assert result.returncode == 0, (example, result.stderr)
        assert json.loads(result.stdout)["functions"], example

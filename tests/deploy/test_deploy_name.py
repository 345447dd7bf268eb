"""``--name`` for an app created without one, as the platform's ``deploy --name``: the stack, every
resource and the containers' environment carry the name (the real CLI, `toolkit plan` offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import assert_one_line_error, base_env, no_pulumi_path, run_cli

UNNAMED = "import toolkit\napp = toolkit.App()\n\n@app.function()\ndef f(x: int) -> int:\n    return x\n"


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("plan-name")
    return base_env(tmp, no_pulumi_path(tmp))


@pytest.fixture(scope="module")
def unnamed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("unnamed") / "unnamed.py"
    path.write_text(UNNAMED)
    return path


def test_an_unnamed_app_plans_under_the_name_given(offline_env: dict[str, str], unnamed: Path) -> None:
    result = run_cli(["plan", str(unnamed), "--name", "my-svc", "--json"], offline_env)
    assert result.returncode == 0, result.stderr
    resources = json.loads(result.stdout)["resources"]
    lambdas = [r for r in resources if r["type"] == "aws:lambda/function:Function"]
    assert [r["name"] for r in lambdas] == ["my-svc-main-us-east-1-f-lambda-function"]
    # the container imports the same source: its App() must get the same name, from its environment
    assert lambdas[0]["inputs"]["environment"]["variables"]["TOOLKIT_APP_NAME"] == "my-svc"


def test_an_unnamed_app_without_a_name_says_how_to_give_one(offline_env: dict[str, str], unnamed: Path) -> None:
    assert_one_line_error(run_cli(["plan", str(unnamed)], offline_env), "toolkit.App('my-app')", "--name my-app")


def test_a_name_that_contradicts_the_source_is_refused(offline_env: dict[str, str]) -> None:
    assert_one_line_error(run_cli(["plan", "examples/hello.py", "--name", "other"], offline_env),
                          "--name 'other'", "named 'hello'", "toolkit.App('other')")


def test_a_name_without_letters_or_digits_is_refused(offline_env: dict[str, str], unnamed: Path) -> None:
    result = run_cli(["plan", str(unnamed), "--name", "!!"], offline_env)
    assert result.returncode == 2 and "'!!' needs letters or digits" in result.stderr, result.stderr


def test_an_app_made_in_a_deployed_container_takes_the_deployed_name(unnamed: Path) -> None:
    code = (f"import runpy; ns = runpy.run_path({str(unnamed)!r}); a = ns['app']; "
            "print(a.name, a.registered_functions['f'].spec.app_name)")
    env = {**os.environ, "TOOLKIT_APP_NAME": "my-svc"}
    seen = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert seen.stdout.split() == ["my-svc", "my-svc"], seen.stderr
    named = subprocess.run([sys.executable, "-c", "import toolkit; print(toolkit.App('own').name)"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert named.stdout.strip() == "own", named.stderr

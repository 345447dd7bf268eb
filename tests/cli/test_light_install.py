"""`pip install toolkit-serverless` without extras writes, runs and serves apps; deploying says
the one command that installs the aws extra.

The deploy-only packages are made uninstallable for every process of the test (the CLI, serve's
gateway and its workers) by a ``sitecustomize`` on PYTHONPATH whose meta-path finder refuses them,
the way a missing package fails: ``ModuleNotFoundError``.  Each process that loaded the finder
writes its pid, so the test knows the workers ran under it too.
"""

from __future__ import annotations

from pathlib import Path

from cli_helpers import EXAMPLES, serving, toolkit_cli

DEPLOY_ONLY = ("boto3", "botocore", "s3transfer", "pulumi", "pulumi_aws", "mangum")

BLOCKER = '''
import os
import sys

BLOCKED = {blocked!r}


class NotInstalled:
    """Deploy-only packages fail to import as if pip had never installed them."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
with open({pids!r}, "a") as fh:
    fh.write(f"{{os.getpid()}}\\n")
'''


def light_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    site = tmp_path / "site"
    site.mkdir()
    pids = tmp_path / "pids"
    (site / "sitecustomize.py").write_text(BLOCKER.format(blocked=set(DEPLOY_ONLY), pids=str(pids)))
    return {"PYTHONPATH": str(site)}, pids


def test_light_install_serves_an_example_without_deploy_packages(tmp_path: Path) -> None:
    env, pids = light_env(tmp_path)
    with serving(EXAMPLES / "simple_endpoint.py", tmp_path / "serve.log", env=env) as serve:
        response = serve.get("simple-endpoint-hello")
        assert response.status_code == 200, serve.output()
        assert response.json() == "Hello world!"
    output = serve.output()
    assert "Traceback" not in output and "ModuleNotFoundError" not in output, output
    assert len(set(pids.read_text().split())) >= 2  # the gateway and at least one worker ran blocked


def test_light_install_runs_functions_without_deploy_packages(tmp_path: Path) -> None:
    env, _pids = light_env(tmp_path)
    result = toolkit_cli("run", str(EXAMPLES / "hello.py::square"), "--x", "7", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "49"


def test_deploy_commands_without_the_aws_extra_name_the_install_command(tmp_path: Path) -> None:
    env, _pids = light_env(tmp_path)
    for args in (("deploy", "examples/hello.py"), ("plan", "examples/hello.py"),
                 ("destroy", "examples/hello.py", "--yes"), ("logs", "examples/hello.py::square"),
                 ("doctor",)):
        result = toolkit_cli(*args, env=env)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "pip install 'toolkit-serverless[aws]'" in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr, (args, result.stderr)


def test_a_deployed_apps_store_without_the_aws_extra_names_the_install_command(tmp_path: Path) -> None:
    env, _pids = light_env(tmp_path)
    env["TOOLKIT_STATE_TABLE"] = "shop-main-state"
    for args in (("dict", "list"), ("queue", "list")):
        result = toolkit_cli(*args, env=env)
        assert result.returncode == 1 and "Traceback" not in result.stderr, (args, result.stderr)
        assert "pip install 'toolkit-serverless[aws]'" in result.stderr, (args, result.stderr)
    del env["TOOLKIT_STATE_TABLE"]
    local = toolkit_cli("dict", "list", env={**env, "TOOLKIT_HOME": str(tmp_path / "home")})
    assert local.returncode == 0, local.stderr  # the local store needs nothing from the extra

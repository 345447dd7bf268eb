"""``App.deploy()`` from a script, against the FAKE `pulumi` (tests/deploy/fake_pulumi): the script
runs in a real process, deploys the file that defines its app as ``toolkit deploy`` does (stack,
config, manifest, environment), returns the App, and fails with the CLI's own one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import (
    DIGEST_A,
    FakePulumi,
    base_env,
    no_pulumi_path,
    read_manifest,
    run_cli,
    write_images,
)

import toolkit
from toolkit.exception import InvalidError, NotSupportedError

APP_SOURCE = '''
import sys
import toolkit

app = toolkit.App("sdk-deploy")
other = toolkit.App("not-this-one")


@app.function()
def square(x: int) -> int:
    return x * x


@other.function()
def cube(x: int) -> int:
    return x * x * x
'''

GUARDED = APP_SOURCE + '''
if __name__ == "__main__":
    try:
        deployed = app.deploy(environment_name=sys.argv[1] if len(sys.argv) > 1 else None)
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}")
        raise SystemExit(3)
    print("returned", deployed is app, deployed.name)
'''

UNGUARDED = APP_SOURCE + '''
app.deploy()
print("deployed at import by", __name__)
'''

OUTPUTS = {"app": "sdk-deploy", "endpoints": {}, "functions": {}, "secrets": {}}  # nothing to verify


def _script(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deploy_me.py"
    path.write_text(text)
    return path


def _run(script: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(script), *args], env=env, cwd=script.parent, capture_output=True,
                          text=True, timeout=120)


def _env(fake: FakePulumi, tmp_path: Path) -> dict[str, str]:
    images = write_images(tmp_path / "images.json", {"square": DIGEST_A})
    return {**fake.env, "TOOLKIT_IMAGES_FILE": str(images)}


def test_a_script_deploys_its_app_into_the_environment_and_gets_the_app_back(fake_pulumi: FakePulumi,
                                                                              tmp_path: Path) -> None:
    fake_pulumi.scenario(outputs=OUTPUTS, resources=[], repository_url="")
    result = _run(_script(tmp_path, GUARDED), _env(fake_pulumi, tmp_path), "staging")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stdout.splitlines() == ["returned True sdk-deploy"]  # quiet without enable_output()
    commands = fake_pulumi.commands()
    assert ["stack", "init", "staging-eu-west-1"] in commands
    assert len([c for c in commands if c[0] == "up"]) == 1
    (config,) = fake_pulumi.config_sets()
    manifest = read_manifest(config)
    assert manifest["app"]["name"] == "sdk-deploy" and manifest["environment"] == "staging"
    assert [f["tag"] for f in manifest["functions"]] == ["square"]  # this app, not the file's other one
    assert "organization/toolkit-sdk-deploy/staging-eu-west-1" in fake_pulumi.state()["stacks"]


def test_an_unguarded_top_level_deploy_deploys_once(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    """The child `toolkit deploy` imports the file, which calls app.deploy() again: that call returns."""
    fake_pulumi.scenario(outputs=OUTPUTS, resources=[], repository_url="")
    result = _run(_script(tmp_path, UNGUARDED), _env(fake_pulumi, tmp_path))
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stdout.splitlines() == ["deployed at import by __main__"]
    assert len([c for c in fake_pulumi.commands() if c[0] == "up"]) == 1


def test_without_the_pulumi_cli_it_raises_the_cli_error(tmp_path: Path) -> None:
    env = base_env(tmp_path, no_pulumi_path(tmp_path))
    env.update(AWS_ACCESS_KEY_ID="AKIAFAKEFAKEFAKE", AWS_SECRET_ACCESS_KEY="fake", AWS_REGION="eu-west-1")
    script = _script(tmp_path, GUARDED)
    result = _run(script, env)
    cli = run_cli(["deploy", f"{script.name}::app"], env, cwd=tmp_path)
    cli_error = cli.stderr.strip().splitlines()[-1]
    assert cli_error.startswith("Error: ") and "pulumi" in cli_error.lower()
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stdout.splitlines() == [f"DeployError: {cli_error.removeprefix('Error: ')}"]


def test_without_the_aws_extra_it_raises_the_cli_install_line(tmp_path: Path) -> None:
    hidden = tmp_path / "hide-pulumi-aws"
    hidden.mkdir()
    (hidden / "sitecustomize.py").write_text("import sys\nsys.modules['pulumi_aws'] = None  # as if not installed\n")
    env = {**base_env(tmp_path, no_pulumi_path(tmp_path)), "PYTHONPATH": str(hidden)}
    result = _run(_script(tmp_path, GUARDED), env)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stdout.splitlines() == [
        "DeployError: toolkit deploy needs pulumi_aws (the aws extra, not installed with toolkit-serverless alone). "
        "Install it with: pip install 'toolkit-serverless[aws]'"]


def test_an_app_of_an_interactive_session_names_the_cli_command(tmp_path: Path) -> None:
    code = APP_SOURCE + "\ntry:\n    app.deploy()\nexcept Exception as exc:\n    print(type(exc).__name__, exc)\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("InvalidError App.deploy(): app 'sdk-deploy' is defined in an interactive "
                                    "session"), result.stdout
    assert "toolkit deploy app.py" in result.stdout


def test_a_different_name_or_strategy_is_refused_naming_the_fix() -> None:
    app = toolkit.App("named-once")

    @app.function()
    def double(x: int) -> int:
        return 2 * x

    with pytest.raises(NotSupportedError, match=r"create it as toolkit\.App\('renamed'\)"):
        app.deploy(name="renamed")
    with pytest.raises(NotSupportedError, match=r"drop strategy="):
        app.deploy(strategy="recreate")
    with pytest.raises(NotSupportedError, match="leave client unset"):
        app.deploy(client=object())
    with pytest.raises(InvalidError, match="has no functions to deploy"):
        toolkit.App("empty").deploy()

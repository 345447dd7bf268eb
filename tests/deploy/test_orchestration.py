"""The deploy orchestration against the FAKE `pulumi` (tests/deploy/fake_pulumi/pulumi) on
PATH: the Automation API really runs, and the fake records every command it is given and
replays outputs and engine events in Pulumi's JSON formats.  What is checked: stack
selection and creation, the backend and passphrase handed to Pulumi, the stack config
(manifest, image digests, registry phase, region, emulator endpoint), outputs parsed into
URLs, redeploy with no changes, destroy, `url`, `app list`, `preview`.  The fake runs no
Pulumi program: the resources of the program are covered by the mock-runtime tests."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from deploy_helpers import (
    DIGEST_A,
    DIGEST_B,
    EXAMPLES,
    FakePulumi,
    HealthServer,
    assert_one_line_error,
    in_process_deployer,
    read_manifest,
    write_images,
)

REPO_URL = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/toolkit/text-to-speech-main"
TAGS = {"hello": DIGEST_A, "show_url": DIGEST_B, "web_endpoint_handler": DIGEST_A}
OUTPUTS = {
    "app": "text_to_speech",
    "endpoints": {"hello": "https://default--text-to-speech-hello.apps.example.net",
                  "show_url": "https://default--text-to-speech-show-url.apps.example.net",
                  "web_endpoint_handler": "https://default--speechify.apps.example.net"},
    "custom_domain_urls": {"hello": ["https://api.example.com", "https://example.com", "https://tts.apps.example.com"]},
    "functions": {tag: {"backend": "lambda", "log_group": f"/aws/lambda/tts-main-{tag}",
                        "stream_url": f"https://{tag.replace('_', '')}id.lambda-url.eu-west-1.on.aws/"} for tag in TAGS},
    "secrets": {},
}
RESOURCES = [["aws:lambda/function:Function", f"text-to-speech-main-{t}-lambda-function"] for t in TAGS]


def scenario(fake: FakePulumi, **extra: Any) -> None:
    fake.scenario(**{"outputs": OUTPUTS, "resources": RESOURCES, "repository_url": REPO_URL, **extra})


def deploy(fake: FakePulumi, tmp_path: Path, *args: str) -> Any:
    """--no-verify: the scenario's URLs and functions are fictional (test_verify.py checks real ones)."""
    images = write_images(tmp_path / "images.json", TAGS)
    return fake.run("deploy", "examples/urls_and_domains.py", "--images", str(images), "--no-verify", *args)


def test_first_deploy_creates_the_stack_sets_config_and_prints_urls(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    scenario(fake_pulumi)
    result = deploy(fake_pulumi, tmp_path)
    assert result.returncode == 0, result.stderr
    commands = fake_pulumi.commands()
    assert commands[0] == ["version"]
    assert commands[1] == ["stack", "select", "--stack", "main-eu-west-1"]  # not found by the fake ...
    assert commands[2] == ["stack", "init", "main-eu-west-1"]  # ... so created
    assert commands[3][:4] == ["plugin", "install", "resource", "aws"]
    ups = [c for c in commands if c[0] == "up"]
    assert len(ups) == 1 and ups[0][:3] == ["up", "--yes", "--skip-preview"] and "--event-log" in ups[0]
    (config,) = fake_pulumi.config_sets()  # prebuilt images: no registry phase
    manifest = read_manifest(config)
    assert manifest["app"]["name"] == "text_to_speech" and manifest["ephemeral"] is False
    assert json.loads(config["toolkit:images"]) == {t: f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/toolkit/x@{d}"
                                                    for t, d in TAGS.items()}
    assert config["toolkit:registryOnly"] == "false"
    assert config["aws:region"] == config["toolkit:region"] == "eu-west-1"
    assert config["toolkit:emulatorEndpoint"] == ""
    assert "organization/toolkit-text-to-speech/main-eu-west-1" in fake_pulumi.state()["stacks"]
    assert result.stdout.splitlines() == [
        "hello: https://default--text-to-speech-hello.apps.example.net",
        "       https://api.example.com", "       https://example.com", "       https://tts.apps.example.com",
        "       https://helloid.lambda-url.eu-west-1.on.aws/  (Function URL, streamed responses)",
        "show_url: https://default--text-to-speech-show-url.apps.example.net",
        "          https://showurlid.lambda-url.eu-west-1.on.aws/  (Function URL, streamed responses)",
        "web_endpoint_handler: https://default--speechify.apps.example.net",
        "                      https://webendpointhandlerid.lambda-url.eu-west-1.on.aws/  (Function URL, streamed responses)",
    ]
    assert "created" in result.stderr and "Resources: 3 created" in result.stderr


def test_state_backend_and_passphrase(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    scenario(fake_pulumi)
    assert deploy(fake_pulumi, tmp_path).returncode == 0
    home = Path(fake_pulumi.env["TOOLKIT_HOME"])
    passphrase_file = home / "pulumi-passphrase"
    assert stat.S_IMODE(os.stat(passphrase_file).st_mode) == 0o600
    for call in fake_pulumi.calls()[1:]:
        assert call["env"]["PULUMI_BACKEND_URL"] == (home / "pulumi-state").resolve().as_uri()
        assert call["env"]["PULUMI_CONFIG_PASSPHRASE"] == passphrase_file.read_text().strip()
        assert call["env"]["PULUMI_AUTOMATION_API"] == "true"
        assert call["cwd"] == str(home / "pulumi-work" / "toolkit-text-to-speech")
    fake_pulumi.reset_calls()
    fake_pulumi.env.update(PULUMI_CONFIG_PASSPHRASE="team-secret")
    assert deploy(fake_pulumi, tmp_path, "--backend-url", "s3://team-state/toolkit").returncode == 0
    envs = [c["env"] for c in fake_pulumi.calls()[1:]]
    assert {e["PULUMI_BACKEND_URL"] for e in envs} == {"s3://team-state/toolkit"}
    assert {e["PULUMI_CONFIG_PASSPHRASE"] for e in envs} == {"team-secret"}


def test_unchanged_redeploy_changes_nothing(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    scenario(fake_pulumi)
    first = deploy(fake_pulumi, tmp_path, "--json")
    second = deploy(fake_pulumi, tmp_path, "--json")
    assert first.returncode == second.returncode == 0, second.stderr
    assert json.loads(first.stdout)["changes"] == {"create": 3}
    assert json.loads(second.stdout)["changes"] == {"same": 3}
    first_config, second_config = fake_pulumi.config_sets()
    assert first_config == second_config  # byte-identical config: the engine sees nothing to do
    assert [c for c in fake_pulumi.commands() if c[:2] == ["stack", "init"]] == [["stack", "init", "main-eu-west-1"]]
    assert "no changes (3 unchanged)" in second.stderr


def test_env_and_localstack_target(fake_pulumi: FakePulumi, tmp_path: Path, localstack: HealthServer) -> None:
    scenario(fake_pulumi)
    fake_pulumi.env.update(LOCALSTACK_ENDPOINT=localstack.url)
    result = deploy(fake_pulumi, tmp_path, "--env", "staging", "--target", "localstack", "--region", "us-west-2")
    assert result.returncode == 0, result.stderr
    assert ["stack", "select", "--stack", "staging-us-west-2"] in fake_pulumi.commands()
    (config,) = fake_pulumi.config_sets()
    assert config["toolkit:emulatorEndpoint"] == localstack.url
    assert config["toolkit:region"] == "us-west-2"
    manifest = read_manifest(config)
    assert manifest["environment"] == "staging"
    assert {f["web"]["host"] for f in manifest["functions"]} >= {"default-staging--speechify"}
    ups = [c for c in fake_pulumi.calls() if c["argv"][0] == "up"]
    assert ups[0]["env"]["AWS_ENDPOINT_URL"] == localstack.url


def test_registry_phase_then_images_then_everything(fake_pulumi: FakePulumi, monkeypatch: Any) -> None:
    """In-process (the publisher is injected), with the fake CLI on PATH."""
    scenario(fake_pulumi)
    deployer, loaded, publisher = in_process_deployer(fake_pulumi, monkeypatch, EXAMPLES / "urls_and_domains.py")
    outcome = deployer.deploy(loaded)
    registry, full = fake_pulumi.config_sets()
    assert registry["toolkit:registryOnly"] == "true" and registry["toolkit:images"] == "{}"
    assert publisher.repositories == [REPO_URL]  # the registry phase's output went to the builder
    assert full["toolkit:registryOnly"] == "false"
    assert json.loads(full["toolkit:images"]) == {t: f"{REPO_URL}@{DIGEST_B}" for t in TAGS}
    assert outcome.deployed.endpoint("hello") is not None
    assert [c[0] for c in fake_pulumi.commands()].count("up") == 2
    deployer.deploy(loaded)  # the stack has a registry now: one `up`, builder asked again
    assert [c[0] for c in fake_pulumi.commands()].count("up") == 3
    assert publisher.repositories == [REPO_URL, REPO_URL]


def test_url_destroy_and_app_list(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    scenario(fake_pulumi)
    assert deploy(fake_pulumi, tmp_path).returncode == 0
    url = fake_pulumi.run("url", "examples/urls_and_domains.py::hello")
    assert url.stdout.splitlines() == ["https://default--text-to-speech-hello.apps.example.net",
                                       "https://api.example.com", "https://example.com", "https://tts.apps.example.com",
                                       "https://helloid.lambda-url.eu-west-1.on.aws/"]
    listed = fake_pulumi.run("app", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["app"] == "text_to_speech" and row["stack"] == "main-eu-west-1" and row["resources"] == 3
    assert {e["url"] for e in row["endpoints"]} == set(OUTPUTS["endpoints"].values())
    destroyed = fake_pulumi.run("destroy", "examples/urls_and_domains.py", "--yes")
    assert destroyed.returncode == 0, destroyed.stderr
    assert any(c[0] == "destroy" for c in fake_pulumi.commands())
    assert ["stack", "rm", "--yes", "main-eu-west-1"] in fake_pulumi.commands()
    assert fake_pulumi.state()["stacks"] == {}
    assert_one_line_error(fake_pulumi.run("url", "examples/urls_and_domains.py::hello"), "no deployment")
    assert "No deployed apps" in fake_pulumi.run("app", "list").stdout


def test_url_of_a_function_without_endpoint(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    scenario(fake_pulumi, outputs={**OUTPUTS, "endpoints": {}})
    assert deploy(fake_pulumi, tmp_path).returncode == 0
    assert_one_line_error(fake_pulumi.run("url", "examples/urls_and_domains.py::hello"), "has no deployed URL")


def test_preview_reuses_the_deployed_digests(fake_pulumi: FakePulumi, tmp_path: Path) -> None:
    scenario(fake_pulumi)
    assert deploy(fake_pulumi, tmp_path).returncode == 0
    result = fake_pulumi.run("preview", "examples/urls_and_domains.py")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"same": 3}
    assert any(c[0] == "preview" for c in fake_pulumi.commands())

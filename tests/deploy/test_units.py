"""Pure parts of the deploy workflow: failure-text map, names, passphrase, config, outputs,
and `serve --cloud` (in-process, against the FAKE pulumi on PATH)."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import DIGEST_A, EXAMPLES, FakePulumi, read_manifest

from toolkit.deploy.errors import (
    CapacityError,
    CredentialsError,
    DeployError,
    HostedZoneError,
    from_pulumi_failure,
)
from toolkit.deploy.names import StackName, stack_name
from toolkit.deploy.outputs import parse_outputs
from toolkit.deploy.stack_config import stack_config
from toolkit.deploy.state_store import STATE_URL_ENVS
from toolkit.deploy.target import Target
from toolkit.loader import load_app
from toolkit.manifest import build_manifest


@pytest.mark.parametrize(("text", "kind"), [
    ("Status Reason: InsufficientInstanceCapacity", CapacityError),
    ("api error VcpuLimitExceeded: You have requested more vCPU capacity", CapacityError),
    ("Failed: Max spot instance count exceeded", CapacityError),
    ('no matching Route 53 Hosted Zone found for name "example.org"', HostedZoneError),
    ("error: configuring SDK credentials: NoCredentialProviders: no valid providers in chain", CredentialsError),
    ("error: something else entirely\nmore", DeployError),
])
def test_failure_text_map(text: str, kind: type[DeployError]) -> None:
    error = from_pulumi_failure(text, operation="up", region="us-east-1")
    assert type(error) is kind
    assert "\n" not in str(error)


def test_generic_failure_keeps_the_first_error_line() -> None:
    text = "Updating\nerror: update failed\n  error: creating thing: AccessDenied\n"
    assert "creating thing: AccessDenied" in str(from_pulumi_failure(text, operation="up"))


def test_stack_names() -> None:
    assert stack_name("text_to_speech") == StackName("toolkit-text-to-speech", "main")
    assert stack_name("Hello", "Staging 2", ephemeral=True) == StackName("toolkit-hello", "staging-2-dev")
    assert StackName.parse("organization/toolkit-hello/main") == StackName("toolkit-hello", "main")
    # Finding 8: what deploys use names the region, so two regions never share a stack (or IAM names).
    assert stack_name("hello", region="eu-west-1") == StackName("toolkit-hello", "main-eu-west-1")
    assert stack_name("hello", "prod", region="us-west-2", ephemeral=True) == StackName("toolkit-hello", "prod-dev-us-west-2")


def test_passphrase_is_generated_once_with_mode_0600(tmp_path: Path, monkeypatch: Any) -> None:
    from toolkit.deploy.state_store import passphrase, resolve_state_store

    monkeypatch.setenv("TOOLKIT_HOME", str(tmp_path))
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    for name in STATE_URL_ENVS:
        monkeypatch.delenv(name, raising=False)
    first, second = passphrase(), passphrase()
    assert first == second and len(first) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / "pulumi-passphrase").st_mode) == 0o600
    store = resolve_state_store()
    assert store.url == (tmp_path / "pulumi-state").resolve().as_uri()
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "from-env")
    assert resolve_state_store("s3://b").env() == {"PULUMI_BACKEND_URL": "s3://b", "PULUMI_CONFIG_PASSPHRASE": "from-env"}


def test_the_state_url_is_read_under_both_spellings(tmp_path: Path, monkeypatch: Any) -> None:
    """``--state-url`` / ``TOOLKIT_STATE_URL`` first; the Pulumi-style ``--backend-url`` /
    ``TOOLKIT_BACKEND_URL`` users know still choose the state store."""
    import click
    from click.testing import CliRunner

    from toolkit.cli.deploy_cmd import deploy_options
    from toolkit.deploy.state_store import resolve_state_store

    monkeypatch.setenv("TOOLKIT_HOME", str(tmp_path))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "p")
    for name in STATE_URL_ENVS:
        monkeypatch.delenv(name, raising=False)

    @click.command()
    @deploy_options
    def show(state_url: str | None, **_: Any) -> None:
        click.echo(resolve_state_store(state_url).url)

    def chosen(*args: str, env: dict[str, str] | None = None) -> str:
        result = CliRunner().invoke(show, ["app.py", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output.strip()

    assert chosen("--state-url", "s3://new") == "s3://new"
    assert chosen("--backend-url", "s3://old") == "s3://old"
    assert chosen(env={"TOOLKIT_BACKEND_URL": "s3://old-env"}) == "s3://old-env"
    assert chosen(env={"TOOLKIT_STATE_URL": "s3://new-env", "TOOLKIT_BACKEND_URL": "s3://old-env"}) == "s3://new-env"
    assert chosen().startswith("file://")
    monkeypatch.setenv("TOOLKIT_BACKEND_URL", "s3://old-env")
    assert resolve_state_store().url == "s3://old-env"  # callers that pass no URL read the variables too


def test_stack_config_is_canonical_and_blanks_unset_keys(monkeypatch: Any) -> None:
    monkeypatch.delenv("TOOLKIT_DOMAIN", raising=False)
    manifest = build_manifest(load_app(str(EXAMPLES / "long_requests.py")))  # what a deploy hands it
    aws = stack_config(manifest, Target("aws", "eu-west-1"), images={"f": "r@" + DIGEST_A})
    assert aws["toolkit:manifest"] == json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    assert aws["toolkit:manifest"] != json.dumps(manifest, separators=(",", ":"))  # the writer's key order is not
    assert aws["toolkit:baseDomain"] == aws["toolkit:hostedZone"] == aws["toolkit:emulatorEndpoint"] == ""
    monkeypatch.setenv("TOOLKIT_DOMAIN", "apps.example.net")
    local = stack_config(manifest, Target("localstack", "us-east-1", "http://localhost:4566"), registry_only=True)
    assert local["toolkit:baseDomain"] == "apps.example.net"
    assert local["toolkit:emulatorEndpoint"] == "http://localhost:4566"
    assert local["toolkit:registryOnly"] == "true" and local["toolkit:images"] == "{}"


def test_parse_outputs_accepts_automation_values() -> None:
    class Value:
        def __init__(self, value: Any) -> None:
            self.value = value

    outputs = {"endpoints": Value({"b": "https://b", "a": "https://a", "c": None}),
               "custom_domain_urls": Value({"a": ["https://x.example.com"]}),
               "functions": Value({"a": {"log_group": "/g/a"}, "b": {"stream_url": "https://b.lambda-url"}}),
               "repository_url": Value("r")}
    deployed = parse_outputs(outputs)
    assert [(e.tag, e.url, e.custom_urls, e.stream_url) for e in deployed.endpoints] == [
        ("a", "https://a", ("https://x.example.com",), None), ("b", "https://b", (), "https://b.lambda-url")]
    assert deployed.log_groups == {"a": "/g/a"} and deployed.repository_url == "r"


def test_serve_cloud_deploys_an_ephemeral_stack_and_tears_it_down(fake_pulumi: FakePulumi, tmp_path: Path,
                                                                   monkeypatch: Any) -> None:
    from toolkit.deploy.cloud_serve import serve_cloud
    from toolkit.deploy.deployer import DeployOptions
    from toolkit.deploy.progress import Progress
    from toolkit.loader import load_app

    fake_pulumi.scenario(outputs={"endpoints": {"f": "https://default--simple-endpoint-f-dev.apps.example.net"}},
                         resources=[["aws:lambda/function:Function", "x"]])
    for key, value in fake_pulumi.env.items():
        monkeypatch.setenv(key, value)

    class Publisher:
        needs_registry = True

        def publish(self, manifest: dict[str, Any], repository_url: str | None, report: Any) -> dict[str, str]:
            return {fn["tag"]: f"{repository_url}@{DIGEST_A}" for fn in manifest["functions"]}

    stop = threading.Event()
    seen: list[Any] = []
    outcome = serve_cloud(load_app(str(EXAMPLES / "simple_endpoint.py")), DeployOptions(), progress=Progress(quiet=True),
                          on_ready=lambda o: (seen.append(o), stop.set()), stop=stop, publisher=Publisher())
    assert seen == [outcome] and outcome.stack == StackName("toolkit-simple-endpoint", "main-dev-eu-west-1")
    manifest = read_manifest(fake_pulumi.config_sets()[-1])
    assert manifest["ephemeral"] is True
    assert all(f["web"]["host"].endswith("-dev") for f in manifest["functions"] if f["web"])
    commands = fake_pulumi.commands()
    assert commands[-1] == ["stack", "rm", "--yes", "main-dev-eu-west-1"] and any(c[0] == "destroy" for c in commands)
    assert fake_pulumi.state()["stacks"] == {}


def test_stack_config_carries_token_hashes_only_when_an_endpoint_needs_them(tmp_path: Path, monkeypatch: Any) -> None:
    from toolkit.serve.tokens import TokenStore

    monkeypatch.setenv("TOOLKIT_HOME", str(tmp_path))
    token = TokenStore().create()
    protected = build_manifest(load_app(str(EXAMPLES / "auth.py")))  # one of its endpoints requires proxy auth
    open_app = build_manifest(load_app(str(EXAMPLES / "long_requests.py")))  # endpoints without it, and a function
    values = stack_config(protected, Target("aws", "eu-west-1"))["toolkit:proxyTokens"]
    hashes = json.loads(values)
    assert list(hashes) == [token.key] and len(hashes[token.key]) == 64
    assert token.secret not in values  # the secret itself never leaves this machine
    assert stack_config(open_app, Target("aws", "eu-west-1"))["toolkit:proxyTokens"] == "{}"


def test_stack_config_refuses_a_manifest_the_schema_refuses() -> None:
    """Read through runtime.manifest like every reader: a bad field is named before Pulumi runs."""
    from runtime.manifest import ManifestError

    manifest = build_manifest(load_app(str(EXAMPLES / "auth.py")))
    manifest["functions"][0]["web"]["requires_proxy_auth"] = "yes"
    with pytest.raises(ManifestError, match=r"functions\[0\] \('bearer'\)\.web\.requires_proxy_auth: expected bool"):
        stack_config(manifest, Target("aws", "eu-west-1"))
    with pytest.raises(ManifestError, match="schema_version None is not supported"):
        stack_config({"functions": []}, Target("aws", "eu-west-1"))


def test_pulumi_aws_requirement_is_the_tested_7x() -> None:
    """Finding 3: 6.x lacks what infra/ declares (Permission.invoked_via_function_url, the non-V2 S3
    configuration resources); the requirement must exclude it and admit the version tested here."""
    import inspect
    from importlib.metadata import version

    import pulumi_aws as aws
    import tomllib
    from deploy_helpers import REPO
    from packaging.requirements import Requirement

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["aws"]
    (requirement,) = [Requirement(d) for d in deps if Requirement(d).name == "pulumi-aws"]
    assert not requirement.specifier.contains("6.83.0")
    assert requirement.specifier.contains(version("pulumi_aws"))
    assert "invoked_via_function_url" in inspect.signature(aws.lambda_.PermissionArgs.__init__).parameters
    assert hasattr(aws.s3, "BucketLifecycleConfiguration") and hasattr(aws.s3, "BucketServerSideEncryptionConfiguration")


def test_repo_pulumi_project_and_toolkit_deploy_never_share_physical_names() -> None:
    """Finding 11: `pulumi up` in the repository (Pulumi.yaml project `toolkit`) and `toolkit deploy`
    (project `toolkit-<app>`) keep separate states; the same app and stack in both must not declare
    the same AWS names (IAM roles, tables, log groups), or the second fails with "already exists"."""
    import yaml
    from deploy_helpers import REPO

    from toolkit.deploy.names import StackName, stack_name
    from toolkit.deploy.offline import placeholder_images, plan_offline
    from toolkit.deploy.stack_config import stack_config
    from toolkit.deploy.target import Target
    from toolkit.loader import load_app
    from toolkit.manifest import build_manifest

    manifest = build_manifest(load_app(str(EXAMPLES / "hello.py")))
    config = stack_config(manifest, Target("aws", "eu-west-1"), images=placeholder_images(manifest))
    deployed = stack_name("hello", region="eu-west-1")
    repo_project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["name"]
    assert repo_project != deployed.project
    names = {project: {r.name for r in plan_offline(StackName(project, deployed.stack), config).resources
                       if not r.is_component}
             for project in (deployed.project, repo_project)}
    assert names[deployed.project] and not names[deployed.project] & names[repo_project]

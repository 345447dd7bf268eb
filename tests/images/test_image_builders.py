"""Builders without building: failure reports, builder choice, and the AWS request shapes
(CodeBuild and ECR against moto, which validates every request against the real API model)."""

from __future__ import annotations

import base64
import io
import os
import zipfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

import toolkit
from toolkit.images import BuilderUnavailableError, PlanOptions, RegistryError, pick_builder, plan_app
from toolkit.images.builders.codebuild import CodeBuildBuilder, describe_failure, start_build_request
from toolkit.images.builders.failure import failing_step
from toolkit.images.registry import ImageRegistry, ecr
from toolkit.manifest import build_manifest

PODMAN_LOG = """STEP 1/9: FROM localhost/base
STEP 2/9: RUN apt-get update && apt-get install -y nope
Get:1 http://deb.debian.org/debian bookworm InRelease
E: Unable to locate package nope
Error: building at STEP "RUN apt-get update && apt-get install -y nope": while running runtime: exit status 100"""

BUILDKIT_LOG = """#5 [1/4] FROM docker.io/library/python:3.11-slim-bookworm
#5 DONE 0.1s
#6 [2/4] RUN pip install no-such-dist-xyz
#6 1.20 ERROR: No matching distribution found for no-such-dist-xyz
#6 ERROR: process "/bin/sh -c pip install no-such-dist-xyz" did not complete successfully: exit code: 1
------
ERROR: failed to solve: process "/bin/sh -c pip install no-such-dist-xyz" did not complete successfully: exit code: 1"""


def test_podman_failure_names_the_step_and_its_output() -> None:
    step, output = failing_step(PODMAN_LOG.splitlines())
    assert step == "RUN apt-get update && apt-get install -y nope"
    assert "Unable to locate package nope" in output and "FROM" not in output


def test_buildkit_failure_names_the_step_and_its_output() -> None:
    step, output = failing_step(BUILDKIT_LOG.splitlines())
    assert step == "RUN pip install no-such-dist-xyz"
    assert "No matching distribution found" in output and "python:3.11" not in output


def test_codebuild_failure_without_log_falls_back_to_phases() -> None:
    build = {"id": "p:1", "buildStatus": "FAILED", "phases": [
        {"phaseType": "DOWNLOAD_SOURCE", "phaseStatus": "FAILED",
         "contexts": [{"statusCode": "CLIENT_ERROR", "message": "NoSuchKey: the zip is gone"}]}]}
    step, output = describe_failure(build, [])
    assert step == "DOWNLOAD_SOURCE" and "NoSuchKey" in output


def test_unknown_builder_lists_the_choices() -> None:
    with pytest.raises(BuilderUnavailableError, match="podman, docker, codebuild"):
        pick_builder("kaniko")


def test_codebuild_without_bucket_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLKIT_BUILD_BUCKET", raising=False)
    with pytest.raises(BuilderUnavailableError, match="TOOLKIT_BUILD_BUCKET"):
        pick_builder("codebuild")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


def small_plan(tmp_path: Path):
    (tmp_path / "app.py").write_text("def f():\n    return 1\n")
    app = toolkit.App("cb-test", image=toolkit.Image.debian_slim())
    app.function()(lambda: 1)
    manifest = build_manifest(app, source={"kind": "file", "path": "app.py", "module": None, "app_variable": None})
    return plan_app(manifest, PlanOptions(root=tmp_path))[0]


def test_ecr_login_and_repository(aws) -> None:
    registry = ecr(aws)
    assert registry.host.endswith(".dkr.ecr.us-east-1.amazonaws.com") and registry.credentials is not None
    assert registry.credentials[0] == "AWS"
    registry.ensure_repository("toolkit/cb-test")
    registry.ensure_repository("toolkit/cb-test")  # idempotent
    repos = aws.client("ecr").describe_repositories()["repositories"]
    assert [(r["repositoryName"], r["imageTagMutability"]) for r in repos] == [("toolkit/cb-test", "IMMUTABLE")]


def test_codebuild_uploads_starts_polls_then_checks_the_registry(aws, tmp_path: Path) -> None:
    """The whole CodeBuild flow against moto: zip to S3, start_build (shape-validated by
    botocore), poll to completion; the digest lookup then asks the (unreachable) registry."""
    aws.client("s3").create_bucket(Bucket="builds")
    aws.client("codebuild").create_project(
        name="toolkit-image-builder", source={"type": "S3", "location": "builds/x.zip"}, artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL",
                     "privilegedMode": True}, serviceRole="arn:aws:iam::123456789012:role/codebuild")
    plan = small_plan(tmp_path)
    logs: list[str] = []
    builder = CodeBuildBuilder(bucket="builds", session=aws, log=logs.append, poll_s=0, sleep=lambda s: None)
    registry = ImageRegistry("127.0.0.1:9")  # nothing listens: the post-build lookup must fail loudly
    with pytest.raises(RegistryError, match="Cannot reach registry"):
        builder.build(plan, plan.ref(registry.host), registry)
    assert any("COMPLETED" in line for line in logs)
    body = aws.client("s3").get_object(Bucket="builds", Key=f"toolkit-builds/{plan.repository}/{plan.tag}.zip")["Body"]
    with zipfile.ZipFile(io.BytesIO(body.read())) as archive:
        names = archive.namelist()
        assert "Containerfile" in names and "app/toolkit-manifest.json" in names
        mode = archive.getinfo("toolkit-runtime/toolkit-entrypoint").external_attr >> 16
        assert mode & 0o111  # the entrypoint stays executable through the zip


def test_start_build_request_carries_the_image_and_buildspec(tmp_path: Path) -> None:
    plan = small_plan(tmp_path)
    request = start_build_request("proj", "bucket", "k.zip", plan, "r.example/x:t", ImageRegistry("r.example"))
    env = {e["name"]: e["value"] for e in request["environmentVariablesOverride"]}
    assert request["sourceLocationOverride"] == "bucket/k.zip" and request["privilegedModeOverride"] is True
    assert env["TOOLKIT_IMAGE"] == "r.example/x:t" and env["TOOLKIT_LABEL"].endswith(plan.inputs_hash)
    assert "docker push" in request["buildspecOverride"]


def test_ecr_token_is_decoded(aws) -> None:
    token = aws.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, _, password = base64.b64decode(token).decode().partition(":")
    assert ecr(aws).credentials == (user, password)


# -- platform and attestations (issue 14, finding 4) ---------------------------------------------------

FAKE_ENGINE = """#!/bin/sh
# A FAKE container engine: records its argv, builds nothing.
printf '%s\\n' "$*" >> "$FAKE_ENGINE_LOG"
case "$1 $2" in
  "image inspect") echo sha256:1111111111111111111111111111111111111111111111111111111111111111 ;;
esac
exit 0
"""


def _fake_engine(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A recording `podman`/`docker` first on PATH; returns its argv log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text(FAKE_ENGINE)
    (bin_dir / name).chmod(0o755)
    log = tmp_path / f"{name}.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ENGINE_LOG", str(log))
    return log


def _build_line(log: Path) -> str:
    return next(line for line in log.read_text().splitlines() if line.startswith("build "))


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_builds_name_the_platform_and_docker_drops_attestations(engine: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.images.builders.engine import Engine

    monkeypatch.delenv("TOOLKIT_ARCHITECTURE", raising=False)
    log = _fake_engine(tmp_path, engine, monkeypatch)
    plan = small_plan(tmp_path)
    assert Engine(engine).build(plan, plan.ref(None), None) == "sha256:" + "1" * 64
    line = _build_line(log)
    assert "--platform linux/amd64" in line  # never the host's (Apple Silicon would give arm64)
    if engine == "docker":  # BuildKit's attestations make an image index, which Lambda refuses
        assert "--provenance=false" in line and "--sbom=false" in line
    else:
        assert "--provenance" not in line  # podman has no such flags and attaches no attestations


def test_arm64_is_an_option_and_changes_the_image_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.images.builders.engine import Engine

    log = _fake_engine(tmp_path, "podman", monkeypatch)
    monkeypatch.delenv("TOOLKIT_ARCHITECTURE", raising=False)
    amd64 = small_plan(tmp_path)
    monkeypatch.setenv("TOOLKIT_ARCHITECTURE", "arm64")
    arm64 = small_plan(tmp_path)
    assert arm64.tag != amd64.tag  # an x86_64 image is never reused for Graviton, nor the reverse
    Engine("podman").build(arm64, arm64.ref(None), None)
    assert "--platform linux/arm64" in _build_line(log)


def test_gpu_images_are_always_amd64(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.images.builders.platform import platform_for

    monkeypatch.setenv("TOOLKIT_ARCHITECTURE", "arm64")
    assert platform_for(gpu=True) == "linux/amd64" and platform_for(gpu=False) == "linux/arm64"


def test_unknown_architecture_names_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.images.builders.platform import architecture

    monkeypatch.setenv("TOOLKIT_ARCHITECTURE", "aarch64")
    with pytest.raises(BuilderUnavailableError, match="'aarch64'.*x86_64 or arm64"):
        architecture()


def test_codebuild_builds_for_the_platform_without_attestations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLKIT_ARCHITECTURE", raising=False)
    plan = small_plan(tmp_path)
    request = start_build_request("proj", "bucket", "k.zip", plan, "r.example/x:t", ImageRegistry("r.example"))
    flags = {e["name"]: e["value"] for e in request["environmentVariablesOverride"]}["TOOLKIT_BUILD_FLAGS"]
    assert flags.split() == ["--platform", "linux/amd64", "--provenance=false", "--sbom=false"]
    assert "$TOOLKIT_BUILD_FLAGS" in request["buildspecOverride"]

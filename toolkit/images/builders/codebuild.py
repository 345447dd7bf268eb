"""AWS CodeBuild: build and push in the user's own account, for machines with no engine.

The context (with its Containerfile) is zipped to S3 (CodeBuild's S3 source must be a zip),
``start_build`` runs an inline buildspec that logs in to ECR, ``docker build``s with plain
progress and pushes; we poll ``batch_get_builds`` and, when it fails, read the build's
CloudWatch log to name the failing step.  The project itself (privileged mode, a service
role that may read the bucket, write logs and push to ECR) is infrastructure: set
``TOOLKIT_CODEBUILD_PROJECT`` and ``TOOLKIT_BUILD_BUCKET``.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from toolkit.images.builders.base import Log
from toolkit.images.builders.engine import INPUTS_LABEL, image_platform
from toolkit.images.builders.failure import failing_step
from toolkit.images.builders.platform import build_flags
from toolkit.images.containerfile import CA_SECRET_ID
from toolkit.images.errors import BuilderUnavailableError, BuildFailedError, RegistryError
from toolkit.images.plan import ImagePlan
from toolkit.images.refs import ImageRef
from toolkit.images.registry import ImageRegistry, manifest_digest

PROJECT_ENV, BUCKET_ENV = "TOOLKIT_CODEBUILD_PROJECT", "TOOLKIT_BUILD_BUCKET"
DEFAULT_PROJECT = "toolkit-image-builder"
CA_FILE = "toolkit-ca.pem"
BUILDSPEC = """version: 0.2
phases:
  pre_build:
    commands:
      - aws ecr get-login-password | docker login --username AWS --password-stdin "$TOOLKIT_REGISTRY"
  build:
    commands:
      - docker build --progress plain -f Containerfile -t "$TOOLKIT_IMAGE" --label "$TOOLKIT_LABEL" $TOOLKIT_BUILD_FLAGS .
      - docker push "$TOOLKIT_IMAGE"
"""


class CodeBuildBuilder:
    name = "codebuild"

    def __init__(self, *, project: str | None = None, bucket: str | None = None, session: Any = None,
                 log: Log | None = None, poll_s: float = 5.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.project = project or os.environ.get(PROJECT_ENV) or DEFAULT_PROJECT
        self.bucket = bucket or os.environ.get(BUCKET_ENV) or ""
        if not self.bucket:
            raise BuilderUnavailableError(f"--builder codebuild needs an S3 bucket for build contexts: set {BUCKET_ENV} "
                                          "(and TOOLKIT_CODEBUILD_PROJECT if not 'toolkit-image-builder').")
        import boto3

        self.session = session or boto3.session.Session()
        self.codebuild, self.s3 = self.session.client("codebuild"), self.session.client("s3")
        self.log = log or (lambda line: None)
        self.poll_s, self.sleep = poll_s, sleep

    def has_image(self, ref: str) -> bool:
        return False  # no local store: the registry is the only place to look

    def local_digest(self, ref: str) -> str | None:
        return None

    def build(self, plan: ImagePlan, ref: str, registry: ImageRegistry | None) -> str | None:
        if registry is None:
            raise BuilderUnavailableError("CodeBuild builds must be pushed: drop --no-push or use podman/docker.")
        key = f"toolkit-builds/{plan.repository}/{plan.tag}.zip"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=zip_context(plan))
        build = self.codebuild.start_build(**start_build_request(self.project, self.bucket, key, plan, ref, registry))
        finished = self._wait(build["build"]["id"])
        if finished.get("buildStatus") != "SUCCEEDED":
            step, output = describe_failure(finished, self._log_lines(finished))
            raise BuildFailedError(ref, step, output, self.name)
        digest = manifest_digest(ImageRef.parse(ref), registry.credentials)
        if digest is None:
            raise RegistryError(f"CodeBuild reported success but {ref} is not in the registry; see build {build['build']['id']}.")
        return digest

    def _wait(self, build_id: str) -> Mapping[str, Any]:
        phase = None
        while True:
            build: Mapping[str, Any] = self.codebuild.batch_get_builds(ids=[build_id])["builds"][0]
            if build.get("currentPhase") != phase:
                phase = build.get("currentPhase")
                self.log(f"codebuild {build_id}: {phase}")
            if build.get("buildComplete") or build.get("buildStatus") not in (None, "IN_PROGRESS"):
                return build
            self.sleep(self.poll_s)

    def _log_lines(self, build: Mapping[str, Any]) -> list[str]:
        logs = (build.get("logs") or {})
        group, stream = logs.get("groupName"), logs.get("streamName")
        if not group or not stream:
            return []
        client = self.session.client("logs")
        events = client.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
        return [line for event in events for line in event["message"].splitlines()]


def start_build_request(project: str, bucket: str, key: str, plan: ImagePlan, ref: str,
                        registry: ImageRegistry) -> dict[str, Any]:
    # CodeBuild's docker is BuildKit: name the platform, no attestations (Lambda refuses image indexes).
    flags = " ".join([*build_flags("docker", image_platform(plan)),
                      *([f"--secret id={CA_SECRET_ID},src={CA_FILE}"] if plan.ca_bundle else [])])
    env = {"TOOLKIT_IMAGE": ref, "TOOLKIT_REGISTRY": registry.host, "TOOLKIT_BUILD_FLAGS": flags,
           "TOOLKIT_LABEL": f"{INPUTS_LABEL}={plan.inputs_hash}", "DOCKER_BUILDKIT": "1"}
    return {
        "projectName": project,
        "sourceTypeOverride": "S3",
        "sourceLocationOverride": f"{bucket}/{key}",
        "buildspecOverride": BUILDSPEC,
        "privilegedModeOverride": True,  # docker-in-CodeBuild needs it
        "environmentVariablesOverride": [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in sorted(env.items())],
    }


def zip_context(plan: ImagePlan) -> bytes:
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="toolkit-codebuild-") as tmp:
        plan.context.materialize(Path(tmp), plan.containerfile)
        if plan.ca_bundle is not None:
            (Path(tmp) / CA_FILE).write_bytes(plan.ca_bundle.read_bytes())
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    _add_to_zip(archive, path, path.relative_to(tmp).as_posix())
    return buffer.getvalue()


def _add_to_zip(archive: zipfile.ZipFile, path: Path, name: str) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = (path.stat().st_mode & 0o777) << 16  # keep the entrypoint executable
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, path.read_bytes())


def describe_failure(build: Mapping[str, Any], log_lines: Sequence[str]) -> tuple[str | None, str]:
    """(failing step, explanation): from the docker log when there is one, else CodeBuild's phases."""
    step, output = failing_step(log_lines) if log_lines else (None, "")
    if step:
        return step, output
    failed = [p for p in build.get("phases") or [] if p.get("phaseStatus") not in (None, "SUCCEEDED")]
    messages = [f"{p['phaseType']}: {c.get('message', '')}" for p in failed for c in p.get("contexts") or []]
    summary = "\n".join(messages) or f"build {build.get('id')} ended {build.get('buildStatus')}"
    return (failed[0]["phaseType"] if failed else None), (output + "\n" + summary).strip()

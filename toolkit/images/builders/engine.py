"""Local container engines: podman and docker, driven through their CLIs.

Both take the same Containerfile.  Builds use the host network by default
(``TOOLKIT_BUILD_NETWORK``), because a base image's resolver and proxy settings are not the
host's; ``pip install`` and ``apt-get`` inside RUN steps then reach the same mirrors the host
does.  A CA bundle for TLS-intercepting networks is passed as a build secret, so it is used
by RUN steps but never stored in a layer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from toolkit.images.builders.base import Log
from toolkit.images.builders.failure import failing_step
from toolkit.images.builders.platform import PLATFORM_LABEL, build_flags, platform_for
from toolkit.images.containerfile import CA_SECRET_ID
from toolkit.images.context import FIXED_MTIME
from toolkit.images.errors import BuilderUnavailableError, BuildFailedError, RegistryError
from toolkit.images.plan import ImagePlan
from toolkit.images.registry import ImageRegistry

NETWORK_ENV = "TOOLKIT_BUILD_NETWORK"
INPUTS_LABEL = "dev.toolkit.inputs"


def image_platform(plan: ImagePlan) -> str:
    """The platform the plan was made for (its label), else the one its GPU-ness implies."""
    return plan.labels.get(PLATFORM_LABEL) or platform_for(gpu=plan.labels.get("dev.toolkit.gpu") == "true")


class Engine:
    """A docker-CLI-compatible engine (``podman`` or ``docker``)."""

    def __init__(self, name: str, *, env: Mapping[str, str] | None = None, log: Log | None = None) -> None:
        path = shutil.which(name)
        if path is None:
            package = "podman" if name == "podman" else "docker.io (Debian) or Docker Engine"
            raise BuilderUnavailableError(f"Builder {name!r} is not installed; install {package}, "
                                          "or pick another with --builder podman|docker|codebuild.")
        self.name, self.binary = name, path
        self.env = {**os.environ, **(env or {})}
        self.log = log or (lambda line: None)

    # -- the local store ---------------------------------------------------------------------

    def has_image(self, ref: str) -> bool:
        args = ["image", "exists", ref] if self.name == "podman" else ["image", "inspect", ref]
        return self._run(args, check=False).returncode == 0

    def local_digest(self, ref: str) -> str | None:
        done = self._run(["image", "inspect", "--format", "{{.Id}}", ref], check=False)
        image_id = done.stdout.strip()
        if done.returncode != 0 or not image_id:
            return None
        return image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"

    # -- build and push ------------------------------------------------------------------------

    def build(self, plan: ImagePlan, ref: str, registry: ImageRegistry | None) -> str | None:
        with tempfile.TemporaryDirectory(prefix="toolkit-build-") as tmp:
            containerfile = plan.context.materialize(Path(tmp), plan.containerfile)
            self._stream(self._build_args(plan, ref, containerfile, Path(tmp)), ref)
        if registry is None:
            return self.local_digest(ref)
        return self.push(ref, registry)

    def _build_args(self, plan: ImagePlan, ref: str, containerfile: Path, context: Path) -> list[str]:
        args = ["build", "-f", str(containerfile), "-t", ref, "--label", f"{INPUTS_LABEL}={plan.inputs_hash}",
                *build_flags(self.name, image_platform(plan))]
        network = os.environ.get(NETWORK_ENV, "host")
        if network:
            args += ["--network", network]
        if self.name == "podman":  # --timestamp: same inputs, same layer and image digests
            args += ["--layers", "--timestamp", str(FIXED_MTIME)]
        else:
            args += ["--progress", "plain"]
        if plan.ca_bundle is not None:
            args += ["--secret", f"id={CA_SECRET_ID},src={plan.ca_bundle}"]
        return [*args, str(context)]

    def push(self, ref: str, registry: ImageRegistry) -> str:
        if registry.credentials:
            self._login(registry)
        if self.name == "podman":
            return self._podman_push(ref, registry)
        output = self._stream(["push", ref], ref, failure="push")
        digest = next((w for line in output for w in line.split() if w.startswith("sha256:")), None)
        if digest is None:
            raise RegistryError(f"docker push of {ref} printed no digest; check `docker push {ref}` by hand.")
        return digest

    def _podman_push(self, ref: str, registry: ImageRegistry) -> str:
        with tempfile.TemporaryDirectory(prefix="toolkit-push-") as tmp:
            digest_file = Path(tmp) / "digest"
            tls = ["--tls-verify=false"] if registry.insecure else []
            self._stream(["push", *tls, "--digestfile", str(digest_file), ref], ref, failure="push")
            return digest_file.read_text().strip()

    def _login(self, registry: ImageRegistry) -> None:
        assert registry.credentials is not None
        user, password = registry.credentials
        tls = ["--tls-verify=false"] if registry.insecure and self.name == "podman" else []
        done = self._run(["login", *tls, "--username", user, "--password-stdin", registry.host],
                         check=False, stdin=password)
        if done.returncode != 0:
            raise RegistryError(f"{self.name} login to {registry.host} failed: {done.stderr.strip()}")

    # -- processes -------------------------------------------------------------------------------

    def _run(self, args: Sequence[str], *, check: bool, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.binary, *args], input=stdin, capture_output=True, text=True,
                              env=self.env, check=check)

    def _stream(self, args: Sequence[str], ref: str, failure: str = "build") -> list[str]:
        """Run, echoing each line to the log as it comes; on failure raise with the failing step."""
        lines: list[str] = []
        with subprocess.Popen([self.binary, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=self.env) as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                lines.append(raw.rstrip("\n"))
                self.log(lines[-1])
        if proc.returncode != 0:
            if failure == "push":
                raise RegistryError(f"{self.name} push of {ref} failed:\n" + "\n".join(lines[-20:]))
            step, output = failing_step(lines)
            raise BuildFailedError(ref, step, output, self.name)
        return lines

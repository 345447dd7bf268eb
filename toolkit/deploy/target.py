"""Where a deploy goes: a real AWS account, or LocalStack through one endpoint URL.

The region is the ``--region`` option, else what boto3 finds (``AWS_REGION``,
``AWS_DEFAULT_REGION``, the profile); a real account needs one and needs credentials.
LocalStack accepts any key, so ``test``/``test`` fill in when none are set, and
``AWS_ENDPOINT_URL`` points boto3 (toolkit's own calls and the runtime's) at it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from toolkit.deploy.errors import CredentialsError, RegionError

__all__ = ["DEFAULT_LOCALSTACK", "LOCALSTACK_ENV", "PLAN_REGION", "Target", "TargetKind", "naming_region",
           "resolve_target"]

TargetKind = Literal["aws", "localstack"]
DEFAULT_LOCALSTACK = "http://localhost:4566"
LOCALSTACK_ENV = "LOCALSTACK_ENDPOINT"
LOCALSTACK_REGION = "us-east-1"
PLAN_REGION = "us-east-1"  # what `toolkit plan` names things after when no region is configured


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    region: str
    endpoint: str | None = None  # set for emulators only

    def env(self) -> dict[str, str]:
        """Environment for ``pulumi`` and boto3: empty for AWS, endpoint and fake keys for LocalStack."""
        if self.endpoint is None:
            return {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        }

    @contextmanager
    def applied(self) -> Iterator[None]:
        """This process's environment pointed at the target, for code that makes its own boto3
        sessions (the image builder's ECR login)."""
        saved = {key: os.environ.get(key) for key in self.env()}
        os.environ.update(self.env())
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def boto3_session(self) -> Any:
        import boto3

        env = self.env()
        return boto3.session.Session(
            region_name=self.region,
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        )

    def client(self, service: str) -> Any:
        return self.boto3_session().client(service, endpoint_url=self.endpoint)


def _session_region() -> str | None:
    import boto3

    region: str | None = boto3.session.Session().region_name
    return region


def resolve_target(kind: TargetKind = "aws", region: str | None = None) -> Target:
    if kind == "localstack":
        endpoint = os.environ.get(LOCALSTACK_ENV) or DEFAULT_LOCALSTACK
        return Target("localstack", region or os.environ.get("AWS_REGION") or LOCALSTACK_REGION, endpoint)
    # botocore reads AWS_DEFAULT_REGION and the profile; AWS_REGION is what the other SDKs and Lambda use.
    chosen = region or os.environ.get("AWS_REGION") or _session_region()
    if not chosen:
        raise RegionError()
    return Target("aws", chosen)


def naming_region(kind: TargetKind = "aws", region: str | None = None) -> str:
    """The region a stack is named after (names.py): the deploy's region, or ``PLAN_REGION``
    where none is configured (``toolkit plan`` works offline; a deploy fails on the region
    later, in ``resolve_target``, with the error that says how to set one)."""
    try:
        return resolve_target(kind, region).region
    except RegionError:
        return PLAN_REGION


def check_credentials(target: Target) -> None:
    """Fail before any build when boto3 (and so Pulumi's AWS provider) would find no credentials."""
    if target.endpoint is not None:
        return
    import boto3
    import botocore.exceptions

    try:
        credentials = boto3.session.Session(region_name=target.region).get_credentials()
    except botocore.exceptions.ProfileNotFound as exc:
        raise CredentialsError(f"{exc}") from None
    if credentials is None:
        raise CredentialsError()

"""CloudBucketMounts on AWS, planned (Pulumi mocks): a function whose mount is signed by its own role gets
exactly that bucket and prefix (read, plus write unless read_only), with the calls `runtime.volumes.buckets`
makes; a mount signed by a secret gets that secret's ARN by name and no bucket grant; others get nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infra"))
from infra_mocks import parse_json  # noqa: E402
from infra_support import run_program, settings_for  # noqa: E402 - sets Pulumi's mocks before infra is imported
from test_infra_volumes import S3_ACTIONS, used_s3_calls  # noqa: E402 - the store's calls and their IAM actions

import toolkit  # noqa: E402
from infra.components.volumes import bucket_mount_policy  # noqa: E402
from runtime.manifest import BucketMount  # noqa: E402
from toolkit.manifest import build_manifest  # noqa: E402


def _manifest() -> dict[str, Any]:
    app = toolkit.App("bucketapp")
    keys = toolkit.Secret.from_name("partner-keys")

    def plain() -> None: ...

    def ingest() -> None: ...

    def report() -> None: ...

    def elsewhere() -> None: ...

    app.function()(plain)
    app.function(volumes={"/data": toolkit.CloudBucketMount("raw-data", key_prefix="in/")})(ingest)
    app.function(volumes={"/ref": toolkit.CloudBucketMount("partner", secret=keys, read_only=True)})(report)
    app.function(volumes={"/r2": toolkit.CloudBucketMount("b", bucket_endpoint_url="https://x.r2.example")})(elsewhere)
    return build_manifest(app)


def test_the_grant_covers_the_calls_the_sync_makes_on_the_mounted_prefix_only() -> None:
    needed = set().union(*(S3_ACTIONS[op] for op in used_s3_calls()))
    policy = bucket_mount_policy([BucketMount("/data", "raw-data", key_prefix="in/")], "us-east-1")
    assert policy is not None
    assert {a for s in policy["Statement"] for a in s["Action"]} == needed
    listing, reading, writing = policy["Statement"]
    assert listing == {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::raw-data"],
                       "Condition": {"StringLike": {"s3:prefix": ["in/*"]}}}
    assert reading["Resource"] == writing["Resource"] == ["arn:aws:s3:::raw-data/in/*"]


def test_a_read_only_mount_may_not_write_and_a_whole_bucket_needs_no_prefix_condition() -> None:
    policy = bucket_mount_policy([BucketMount("/ref", "partner", read_only=True)], "cn-north-1")
    assert policy is not None
    assert policy["Statement"] == [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws-cn:s3:::partner"]},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws-cn:s3:::partner/*"]}]


def test_only_role_signed_mounts_are_granted_and_secret_signed_ones_get_their_secret_by_name() -> None:
    run = run_program(settings_for(_manifest()))
    grants = {r.name.split("-bucket-access")[0].rsplit("-", 1)[-1]: parse_json(r.inputs["policy"])
              for r in run.mocks.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.endswith("-bucket-access")}
    assert set(grants) == {"ingest"}  # report signs with its secret; elsewhere is not AWS S3
    assert grants["ingest"]["Statement"][1]["Resource"] == ["arn:aws:s3:::raw-data/in/*"]
    env = {r.name.split("-lambda")[0].rsplit("-", 1)[-1]: r.inputs["environment"]["variables"]
           for r in run.mocks.of_type("aws:lambda/function:Function")}
    secrets = json.loads(env["report"]["TOOLKIT_BUCKET_SECRET_ARNS"])
    assert list(secrets) == ["partner-keys"] and secrets["partner-keys"].startswith("arn:")
    assert "TOOLKIT_SECRET_ARNS" not in env["report"] or "partner-keys" not in env["report"]["TOOLKIT_SECRET_ARNS"]
    assert "TOOLKIT_BUCKET_SECRET_ARNS" not in env["plain"] and "TOOLKIT_BUCKET_SECRET_ARNS" in env["ingest"]
    role_policies = [parse_json(r.inputs["policy"]) for r in run.mocks.of_type("aws:iam/rolePolicy:RolePolicy")
                     if "-report-" in r.name and r.name.endswith("-policy")]
    readable = {res for p in role_policies for s in p["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]
                for res in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
    assert secrets["partner-keys"] in readable  # the role may read the mount's secret

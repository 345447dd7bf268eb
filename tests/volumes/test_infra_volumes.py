"""Volumes on AWS, planned: the bucket (kept on destroy, encrypted, private, TLS only), each
function's grant (the prefixes of the volumes it mounts, the calls the store makes), and
functions without volumes left exactly as they were.  Pulumi mocks; no AWS."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infra"))
from infra_mocks import parse_json  # noqa: E402
from infra_support import run_component, run_program, settings_for  # noqa: E402 - sets Pulumi's mocks before infra is imported

import toolkit  # noqa: E402
from infra.components.volumes import AppVolumes, AppVolumesArgs, volume_access_policy  # noqa: E402
from toolkit.manifest import build_manifest  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUCKET = "aws:s3/bucket:Bucket"
# What each boto3 call of runtime/volumes/s3.py needs from IAM.
S3_ACTIONS = {
    "head_object": {"s3:GetObject"}, "get_object": {"s3:GetObject"}, "download_file": {"s3:GetObject"},
    "put_object": {"s3:PutObject"}, "upload_file": {"s3:PutObject", "s3:AbortMultipartUpload"},
    "upload_fileobj": {"s3:PutObject", "s3:AbortMultipartUpload"}, "copy": {"s3:GetObject", "s3:PutObject"},
    "delete_object": {"s3:DeleteObject"}, "delete_objects": {"s3:DeleteObject"}, "list_objects_v2": {"s3:ListBucket"},
}


def _manifest(with_volumes: bool = True) -> dict[str, Any]:
    app = toolkit.App("volapp")
    weights = toolkit.Volume.from_name("weights", create_if_missing=True)
    logs = toolkit.Volume.from_name("logs", create_if_missing=True)

    def plain() -> None: ...

    def infer() -> None: ...

    def train() -> None: ...

    app.function()(plain)
    if with_volumes:
        app.function(volumes={"/models": weights.read_only()})(infer)
        app.function(volumes={"/models": weights, "/logs": logs}, gpu="T4")(train)
    return build_manifest(app)


def test_the_bucket_is_kept_on_destroy_encrypted_private_and_tls_only() -> None:
    mocks = run_component(lambda: AppVolumes("volapp-test-volumes", AppVolumesArgs(prefix="volapp-test")).bucket.arn)
    bucket = mocks.one(BUCKET, "volumes")
    assert bucket.options["retain_on_delete"] is True and not bucket.inputs.get("forceDestroy")
    assert bucket.inputs["bucketPrefix"].startswith("volapp-test-volumes-")
    for recorded in mocks.resources:
        if recorded.typ.startswith("aws:s3/"):
            assert recorded.options["retain_on_delete"] is True, recorded.name  # nothing of it goes on destroy
    sse = mocks.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "sse")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    private = mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "private").inputs
    assert all(private[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    [deny] = parse_json(mocks.one("aws:s3/bucketPolicy:BucketPolicy", "tls").inputs["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def used_s3_calls() -> set[str]:
    """The boto3 calls runtime/volumes/s3.py makes (the bucket-mount sync reuses them)."""
    source = (REPO / "runtime" / "volumes" / "s3.py").read_text()
    used = set(re.findall(r"self\.s3\.(\w+)\(", source)) | set(re.findall(r'get_paginator\("(\w+)"\)', source))
    return used - {"get_paginator"}


def test_the_grant_covers_exactly_the_calls_the_store_makes_on_the_mounted_prefixes_only() -> None:
    used = used_s3_calls()
    assert used <= set(S3_ACTIONS), f"add the IAM actions of {sorted(used - set(S3_ACTIONS))} to S3_ACTIONS"
    needed = set().union(*(S3_ACTIONS[op] for op in used))
    policy = volume_access_policy("arn:aws:s3:::vb", ["weights", "logs", "weights"])
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == needed and not any("*" in a for a in actions)
    listing, reading, writing = policy["Statement"]
    assert listing["Resource"] == ["arn:aws:s3:::vb"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["volumes/logs/*", "volumes/weights/*"]}}
    assert reading["Resource"] == writing["Resource"] == ["arn:aws:s3:::vb/volumes/logs/*",
                                                          "arn:aws:s3:::vb/volumes/weights/*"]


def test_a_read_only_mount_is_granted_list_and_read_only() -> None:
    policy = volume_access_policy("arn:aws:s3:::vb", ["weights", "logs"], read_only=["weights"])
    listing, reading, writing = policy["Statement"]
    assert reading == {"Effect": "Allow", "Action": ["s3:GetObject"],
                       "Resource": ["arn:aws:s3:::vb/volumes/logs/*", "arn:aws:s3:::vb/volumes/weights/*"]}
    assert writing["Resource"] == ["arn:aws:s3:::vb/volumes/logs/*"]  # not the weights
    only_reads = volume_access_policy("arn:aws:s3:::vb", ["weights"], read_only=["weights"])
    assert {a for s in only_reads["Statement"] for a in s["Action"]} == {"s3:ListBucket", "s3:GetObject"}


def test_only_functions_that_mount_a_volume_get_the_bucket_and_a_grant_and_none_gets_a_vpc() -> None:
    run = run_program(settings_for(_manifest()))
    assert run.outputs["volume_bucket"]
    grants = {r.name: parse_json(r.inputs["policy"]) for r in run.mocks.of_type("aws:iam/rolePolicy:RolePolicy")
              if r.name.endswith("-volume-access")}
    by_function = {name.split("-volume-access")[0].rsplit("-", 1)[-1]: g for name, g in grants.items()}
    assert set(by_function) == {"infer", "train"}
    assert by_function["infer"]["Statement"][1]["Resource"][0].endswith("/volumes/weights/*")
    assert len(by_function["infer"]["Statement"][1]["Resource"]) == 1  # not the logs volume it does not mount
    assert len(by_function["infer"]["Statement"]) == 2  # it mounts the weights read-only: no write statement
    assert len(by_function["train"]["Statement"][1]["Resource"]) == 2
    assert len(by_function["train"]["Statement"][2]["Resource"]) == 2  # it may write both
    lambdas = {r.name: r.inputs for r in run.mocks.of_type("aws:lambda/function:Function")}
    for name, inputs in lambdas.items():
        env = inputs["environment"]["variables"]
        assert ("TOOLKIT_VOLUME_BUCKET" in env) == ("-infer-" in name), name
        assert not inputs.get("vpcConfig"), f"{name}: volumes need no VPC"
    tasks = run.mocks.of_type("aws:ecs/taskDefinition:TaskDefinition")
    train_env = {e["name"]: e["value"] for t in tasks if "train" in t.name
                 for c in parse_json(t.inputs["containerDefinitions"]) for e in c.get("environment", [])}
    assert train_env.get("TOOLKIT_VOLUME_BUCKET") == run.outputs["volume_bucket"]


@pytest.mark.parametrize("with_volumes", [False])
def test_an_app_without_volumes_declares_no_volume_bucket(with_volumes: bool) -> None:
    run = run_program(settings_for(_manifest(with_volumes)))
    assert run.outputs["volume_bucket"] is None
    assert not [r for r in run.mocks.of_type(BUCKET) if "volumes" in r.name]
    assert not [r for r in run.mocks.of_type("aws:iam/rolePolicy:RolePolicy") if "volume" in r.name]

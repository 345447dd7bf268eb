"""Volumes on AWS: one private, encrypted S3 bucket per app; each volume is a prefix in it.

Why S3 prefixes, not EFS or S3 Files (docs/volumes.md has the whole trade-off): a mounted file
system puts a Lambda in a VPC, which takes away its default internet path (then NAT or
endpoints: cost), and Lambda mounts only under ``/mnt``.  An S3 prefix synced at reload/commit
(`runtime.volumes.s3`) needs no VPC, so functions keep their network, a function without volumes
changes in nothing, the laptop CLI reaches the same data, and IAM can grant each function
exactly the volumes it mounts (a prefix each, `volume_access_policy`).

The bucket holds user data: ``toolkit destroy`` keeps it (``retain_on_delete``, no
``force_destroy``) unless ``--delete-volumes`` empties and deletes it afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import child, to_json
from infra.naming import partition
from runtime.manifest import BucketMount

__all__ = ["AppVolumes", "AppVolumesArgs", "bucket_mount_policy", "grant_bucket_mounts", "grant_volumes",
           "volume_access_policy", "volume_prefix"]


def volume_prefix(name: str) -> str:
    """The keys of volume ``name`` (`runtime.volumes.s3.PREFIX`): its marker and its files."""
    return f"volumes/{name}/"


@dataclass
class AppVolumesArgs:
    prefix: str  # the app's <app>-<stack>: the bucket's name starts with it


class AppVolumes(pulumi.ComponentResource):
    bucket: aws.s3.Bucket

    def __init__(self, name: str, args: AppVolumesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:volumes:AppVolumes", name, None, opts)
        kept = child(self, retain_on_delete=True)  # destroy leaves the data (toolkit destroy --delete-volumes)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", bucket_prefix=f"{args.prefix[:40]}-volumes-",
                                    force_destroy=False, opts=kept)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-private", bucket=self.bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=kept,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse", bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}],
            opts=kept,
        )
        aws.s3.BucketPolicy(f"{name}-tls-only", bucket=self.bucket.id,
                            policy=to_json(self.bucket.arn.apply(_tls_only)), opts=kept)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-uploads", bucket=self.bucket.id,
            rules=[{"id": "abort-uploads", "status": "Enabled", "filter": {"prefix": ""},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1}}],
            opts=kept,
        )
        self.register_outputs({"bucket_name": self.bucket.bucket})


def _tls_only(bucket_arn: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def volume_access_policy(bucket_arn: str, names: Sequence[str], read_only: Sequence[str] = ()) -> dict[str, Any]:
    """What `runtime.volumes.s3` does for a container, on the volumes it mounts and nothing else:
    list and read each; write (commit, create) only those not mounted read-only."""
    prefixes = [volume_prefix(n) for n in sorted(set(names))]
    writable = [volume_prefix(n) for n in sorted(set(names) - set(read_only))]
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket_arn],
         "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}}},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{bucket_arn}/{p}*" for p in prefixes]},
    ]
    if writable:
        statements.append({"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                           "Resource": [f"{bucket_arn}/{p}*" for p in writable]})
    return {"Version": "2012-10-17", "Statement": statements}


def grant_volumes(parent: pulumi.Resource, name: str, role: aws.iam.Role, volumes: AppVolumes,
                  names: Sequence[str], read_only: Sequence[str] = ()) -> aws.iam.RolePolicy:
    """Let ``role`` (a function's) use the volumes it mounts: `volume_access_policy` on its own."""
    document = volumes.bucket.arn.apply(lambda arn: volume_access_policy(arn, names, read_only))
    return aws.iam.RolePolicy(name, role=role.id, policy=to_json(document), opts=child(parent))


def bucket_mount_policy(mounts: Sequence[BucketMount], region: str) -> dict[str, Any] | None:
    """What `runtime.volumes.buckets` does for the CloudBucketMounts signed with the function's role (no
    ``secret``, AWS S3): list the prefix, read its objects, and write them only where not ``read_only``; and
    assume each mount's ``oidc_auth_role_arn``.  None when no mount uses the role (a secret's keys, or
    another S3-compatible endpoint)."""
    own = [m for m in mounts if m.secret is None and m.endpoint_url is None and m.oidc_auth_role_arn is None]
    # oidc_auth_role_arn without a secret: the function's role assumes that role (runtime.volumes.buckets._assumed);
    # what the assumed role may do with the bucket is the user's policy on it.
    assumed = sorted({m.oidc_auth_role_arn for m in mounts if m.secret is None and m.oidc_auth_role_arn})
    if not own and not assumed:
        return None
    arn = f"arn:{partition(region)}:s3:::"
    statements: list[dict[str, Any]] = [{"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": assumed}] if assumed else []
    for mount in sorted(own, key=lambda m: (m.bucket_name, m.key_prefix, m.read_only)):
        bucket, objects = f"{arn}{mount.bucket_name}", f"{arn}{mount.bucket_name}/{mount.key_prefix}*"
        listing: dict[str, Any] = {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket]}
        if mount.key_prefix:
            listing["Condition"] = {"StringLike": {"s3:prefix": [f"{mount.key_prefix}*"]}}
        statements += [listing, {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [objects]}]
        if not mount.read_only:
            statements.append({"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject",
                                                             "s3:AbortMultipartUpload"], "Resource": [objects]})
    return {"Version": "2012-10-17", "Statement": statements}


def grant_bucket_mounts(parent: pulumi.Resource, name: str, role: aws.iam.Role, mounts: Sequence[BucketMount],
                        region: str) -> aws.iam.RolePolicy | None:
    """Let ``role`` (a function's) sync the buckets it mounts with its own credentials: `bucket_mount_policy`."""
    document = bucket_mount_policy(mounts, region)
    if document is None:
        return None
    return aws.iam.RolePolicy(name, role=role.id, policy=to_json(document), opts=child(parent))

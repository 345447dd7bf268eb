"""Dicts and Queues on AWS: the app's state table and its bucket for values over the item limit.

The layout is `runtime.primitives.dynamodb`'s: hash key ``pk``, range key ``sk``, TTL on
``expires_at`` (queue items expire ``partition_ttl`` after their put; ephemeral objects a day
after their creation).  Encrypted at rest, point-in-time recovery on: a Dict is user data that
outlives any call.  The bucket keeps claim-checked values under ``state/``; those of queue items
expire with the items (two days covers the 24 h ``partition_ttl`` cap), Dict values never do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import child, to_json

__all__ = ["STATE_TTL_ATTRIBUTE", "AppState", "AppStateArgs", "grant_state", "state_access_policy"]

STATE_TTL_ATTRIBUTE = "expires_at"
QUEUE_VALUES_PREFIX = "state/queue#"
QUEUE_VALUE_EXPIRY_DAYS = 2


@dataclass
class AppStateArgs:
    table_name: str


class AppState(pulumi.ComponentResource):
    table: aws.dynamodb.Table
    bucket: aws.s3.Bucket

    def __init__(self, name: str, args: AppStateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:state:AppState", name, None, opts)
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="pk",
            range_key="sk",
            attributes=[{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
            ttl={"attribute_name": STATE_TTL_ATTRIBUTE, "enabled": True},
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True},
            opts=child(self),
        )
        self.bucket = self._bucket(name)
        self.register_outputs({"table_name": self.table.name, "bucket_name": self.bucket.bucket})

    def _bucket(self, name: str) -> aws.s3.Bucket:
        bucket = aws.s3.Bucket(f"{name}-values", force_destroy=True, opts=child(self))
        aws.s3.BucketPublicAccessBlock(
            f"{name}-values-private", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child(self),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-values-sse", bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}],
            opts=child(self),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-values-expiry", bucket=bucket.id,
            rules=[{"id": "expire-queue-values", "status": "Enabled", "filter": {"prefix": QUEUE_VALUES_PREFIX},
                    "expiration": {"days": QUEUE_VALUE_EXPIRY_DAYS}},
                   {"id": "abort-uploads", "status": "Enabled", "filter": {"prefix": ""},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1}}],
            opts=child(self),
        )
        return bucket


def state_access_policy(table_arn: str, bucket_arn: str) -> dict[str, Any]:
    """What a function's Dicts and Queues need (`runtime.primitives.dynamodb`), on this app's table only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow",
             "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                        "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchWriteItem"],
             "Resource": [table_arn]},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
             "Resource": [f"{bucket_arn}/state/*"]},
        ],
    }


def grant_state(parent: pulumi.Resource, name: str, role: aws.iam.Role, state: AppState) -> aws.iam.RolePolicy:
    """Let ``role`` (a function's) use the app's Dicts and Queues: `state_access_policy` on its own."""
    document = pulumi.Output.all(state.table.arn, state.bucket.arn).apply(lambda v: state_access_policy(v[0], v[1]))
    return aws.iam.RolePolicy(name, role=role.id, policy=to_json(document), opts=child(parent))

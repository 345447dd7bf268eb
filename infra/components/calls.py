"""Call state: the DynamoDB calls table and the private S3 bucket for large payloads."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import child

__all__ = ["CALLS_HASH_KEY", "CALLS_TTL_ATTRIBUTE", "PENDING_INDEX", "CallTable", "CallStoreArgs"]

CALLS_HASH_KEY = "call_id"
CALLS_TTL_ATTRIBUTE = "expires_at"
# The sparse index of unclaimed calls by function (runtime/callstore/dynamodb.py uses the same names):
# a @toolkit.batched worker finds the calls it can take into its batch there.
PENDING_INDEX, PENDING_KEY, PENDING_ORDER = "pending", "pending_key", "created_at"


@dataclass
class CallStoreArgs:
    table_name: str
    payload_expiry_days: int = 7


class CallTable(pulumi.ComponentResource):
    table: aws.dynamodb.Table
    bucket: aws.s3.Bucket

    def __init__(self, name: str, args: CallStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:calls:CallStore", name, None, opts)  # the type token stays: it is in stacks' URNs
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=CALLS_HASH_KEY,
            attributes=[{"name": CALLS_HASH_KEY, "type": "S"}, {"name": PENDING_KEY, "type": "S"},
                        {"name": PENDING_ORDER, "type": "N"}],
            global_secondary_indexes=[{"name": PENDING_INDEX, "hash_key": PENDING_KEY, "range_key": PENDING_ORDER,
                                       "projection_type": "KEYS_ONLY"}],
            ttl={"attribute_name": CALLS_TTL_ATTRIBUTE, "enabled": True},
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True},
            opts=child(self),
        )
        self.bucket = self._payload_bucket(name, args.payload_expiry_days)
        self.register_outputs({"table_name": self.table.name, "bucket_name": self.bucket.bucket})

    def _payload_bucket(self, name: str, expiry_days: int) -> aws.s3.Bucket:
        bucket = aws.s3.Bucket(f"{name}-payloads", force_destroy=True, opts=child(self))
        aws.s3.BucketPublicAccessBlock(
            f"{name}-payloads-private",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child(self),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-payloads-sse",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}],
            opts=child(self),
        )
        # Payloads are claim checks for one call: once its result has expired, so have they.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-payloads-expiry",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-payloads",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "expiration": {"days": expiry_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=child(self),
        )
        return bucket

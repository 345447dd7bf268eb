"""Claim-checks: a blob too large for where it must travel goes to the payload bucket, and only
its S3 key travels (the enterprise-integration pattern of that name).

A call's input and result live in its DynamoDB item (`runtime.callstore.dynamodb`); an item
holds at most `DYNAMODB_ITEM_BYTES`, so a blob over `CLAIM_CHECK_THRESHOLD` is uploaded to
``s3://<TOOLKIT_PAYLOAD_BUCKET>/calls/<call_id>/<name>-<uuid>`` and the item keeps the key.
Everything else a call touches carries only its id (the direct invoke, the Step Functions
execution input), so this one threshold is what lets ``.remote/.spawn/.map`` take and return
more than Lambda's 6 MB or Step Functions' 256 KB (`runtime.invocation`).  Each upload gets
its own key, so a writer that loses a race deletes its own object, never the winner's.  The
bucket's lifecycle rule (infra) expires objects with their call records.
"""

from __future__ import annotations

import uuid
from typing import Any

from runtime.awsclients import client
from runtime.environment import ContainerEnv

BUCKET_ENV = ContainerEnv.name("payload_bucket")
DYNAMODB_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit, attribute names included
CLAIM_CHECK_THRESHOLD = 180_000  # bytes; a payload and a result this size plus metadata fit one item


class ClaimCheckUnavailableError(RuntimeError):
    """A blob needs a claim-check but no payload bucket is configured (or the item names one it cannot read)."""


class ClaimChecks:
    """Blobs of calls in one S3 bucket (None: no bucket, so every blob must fit its item)."""

    def __init__(self, bucket: str | None) -> None:
        self.bucket = bucket
        self._s3: Any = client("s3") if bucket else None

    def put(self, call_id: str, name: str, data: bytes, threshold: int, *, prefix: str = "calls") -> str:
        """Upload ``data`` (the call's ``name``: payload, result); returns its key.  Dicts and Queues
        (`runtime.primitives.dynamodb`) pass their own ``prefix`` and object id for ``call_id``."""
        if self._s3 is None:
            raise ClaimCheckUnavailableError(
                f"The call's {name} is {len(data):,} bytes, over the {threshold:,} byte limit for data kept in the "
                f"call table (a DynamoDB item holds at most {DYNAMODB_ITEM_BYTES // 1024} KB), and no payload bucket "
                f"is configured to carry it: set {BUCKET_ENV} to an S3 bucket the function can read and write "
                "(toolkit deploy creates one and sets it), or pass less data, e.g. an S3 key instead of the bytes."
            )
        key = f"{prefix}/{call_id}/{name}-{uuid.uuid4().hex}"
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return key

    def get(self, call_id: str, name: str, key: str) -> bytes:
        if self._s3 is None:
            raise ClaimCheckUnavailableError(f"Call {call_id} keeps its {name} in S3 at {key!r}; set {BUCKET_ENV} "
                                             "to the app's payload bucket to read it.")
        body: bytes = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def delete(self, key: str) -> None:
        if self._s3 is not None:
            self._s3.delete_object(Bucket=self.bucket, Key=key)

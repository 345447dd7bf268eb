"""What ``toolkit destroy`` does with the app's volume bucket: it holds user data, so the stack
keeps it (``retain_on_delete``, infra/components/volumes.py) and only ``--delete-volumes``
empties and deletes it, after the stack is gone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["delete_volume_bucket", "kept_message"]


def kept_message(bucket: str) -> str:
    return (f"Kept the volume bucket {bucket} (your volumes' files). Delete it with `toolkit destroy --delete-volumes` "
            f"before destroying, or later with `aws s3 rb s3://{bucket} --force`.")


def delete_volume_bucket(s3: Any, bucket: str, say: Callable[[str], None]) -> int:
    """Delete every object (and unfinished upload) of ``bucket``, then the bucket; returns how
    many objects went.  A bucket already gone is not an error (a second destroy)."""
    if not _exists(s3, bucket):
        say(f"The volume bucket {bucket} is already gone.")
        return 0
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", ())]
        if keys:  # a page holds at most 1,000 keys: what DeleteObjects takes
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", ()):
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    s3.delete_bucket(Bucket=bucket)
    say(f"Deleted the volume bucket {bucket} and its {deleted:,} objects.")
    return deleted


def _exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise

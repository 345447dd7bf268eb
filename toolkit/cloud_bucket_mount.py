"""The platform's ``modal.cloud_bucket_mount`` path (`toolkit.pending`: not built yet)."""

from toolkit.pending import CloudBucketMount

__all__ = ["CloudBucketMount"]

"""`BucketCopy`: a container's synced copy of a `CloudBucketMount` (objects under a key prefix of a bucket).

Neither Lambda, Fargate nor a laptop can mount S3 as a file system, so a bucket mount is a directory
kept in step with the bucket: ``reload`` downloads what changed under the prefix, ``commit`` uploads
what changed in the directory (and deletes objects for files removed there).  It is the volume sync
of `runtime.volumes.s3` with the bucket's own keys: ``<key_prefix><path>`` instead of
``volumes/<name>/files/<path>``.

* ``read_only``: ``commit`` uploads nothing and returns (and prints) the files that were changed
  in the copy, so a write that will never reach the bucket is said, not silently lost.
* Several processes may share one copy (local workers of one function): ``reload`` and ``commit``
  hold an exclusive lock on the copy, so two workers never sync it at once.
* ``requester_pays``: every request carries ``RequestPayer=requester``.
"""

from __future__ import annotations

import fcntl
import hashlib
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runtime.manifest import BucketMount
from runtime.volumes.s3 import S3VolumeStore, sync_entries, unchanged_since_sync

__all__ = ["COPY", "DEFAULT_CACHE", "BucketCopy", "copy_directory", "s3_client"]

COPY = "files"  # the copy's directory under its cache: <cache>/files (the sync state is <cache>/.sync/files.json)
DEFAULT_CACHE = "/tmp/toolkit-buckets"  # noqa: S108 - Lambda's only writable directory
_PAYER_OPERATIONS = ("ListObjectsV2", "GetObject", "HeadObject", "PutObject", "DeleteObjects", "CopyObject",
                     "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload")


def copy_directory(cache_root: str | Path, mount: BucketMount) -> Path:
    """Where the copy of ``mount`` lives under ``cache_root``: one per bucket, prefix, endpoint and mode, so
    every worker mounting the same bucket the same way shares it (and the link at the mount path)."""
    key = "|".join((mount.endpoint_url or "", mount.bucket_name, mount.key_prefix, str(mount.read_only)))
    return Path(cache_root) / f"{mount.bucket_name[:40]}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def s3_client(mount: BucketMount, credentials: Mapping[str, str]) -> Any:
    """An S3 client for ``mount``: signed with ``credentials`` (a secret's AWS_* keys) when given, else with
    this process's own credentials, else unsigned (public buckets); ``oidc_auth_role_arn`` assumed first."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=credentials.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=credentials.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
        region_name=credentials.get("AWS_REGION") or credentials.get("AWS_DEFAULT_REGION"))
    if mount.oidc_auth_role_arn:
        session = _assumed(session, mount.oidc_auth_role_arn)
    unsigned = session.get_credentials() is None
    config = Config(signature_version=UNSIGNED if unsigned else None,
                    s3={"addressing_style": "path" if mount.force_path_style else "auto"})
    s3 = session.client("s3", endpoint_url=mount.endpoint_url, config=config)
    if mount.requester_pays:
        for operation in _PAYER_OPERATIONS:
            s3.meta.events.register(f"before-parameter-build.s3.{operation}", _request_payer)
    return s3


def _assumed(session: Any, role_arn: str) -> Any:
    import boto3

    found = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="toolkit-bucket-mount")["Credentials"]
    return boto3.session.Session(aws_access_key_id=found["AccessKeyId"], aws_secret_access_key=found["SecretAccessKey"],
                                 aws_session_token=found["SessionToken"], region_name=session.region_name)


def _request_payer(params: dict[str, Any], **_: Any) -> None:
    params.setdefault("RequestPayer", "requester")


class BucketCopy(S3VolumeStore):
    """The synced copy of one bucket mount (the `S3VolumeStore` sync, on the bucket's own keys)."""

    kind = "bucket"

    def __init__(self, mount: BucketMount, cache: str | Path, s3: Any) -> None:
        super().__init__(mount.bucket_name, cache=cache, s3=s3)
        self.mount = mount

    def __repr__(self) -> str:
        return f"BucketCopy(s3://{self.mount.bucket_name}/{self.mount.key_prefix} at {self.mount.path})"

    def files_prefix(self, name: str) -> str:  # type: ignore[override]  # one copy: the mount's own prefix
        return self.mount.key_prefix

    @property
    def directory(self) -> Path:
        return self.working_copy(COPY)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.cache.mkdir(parents=True, exist_ok=True)
        with (self.cache / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            yield

    def pull(self) -> None:
        """Download what changed under the prefix since the copy's last sync."""
        with self._locked():
            self.reload(COPY)

    def push(self) -> list[str]:
        """Upload what changed in the copy (nothing for a read-only mount); returns the changed paths
        that were *not* uploaded, which a read-only mount also prints."""
        with self._locked():
            if not self.mount.read_only:
                self.commit(COPY)
                return []
            kept = self.changed()
        if kept:
            print(f"toolkit: {len(kept)} file(s) changed under {self.mount.path} were not uploaded to "
                  f"s3://{self.mount.bucket_name}/{self.mount.key_prefix} because its CloudBucketMount is "
                  f"read_only=True: {', '.join(kept[:5])}{' ...' if len(kept) > 5 else ''}. Write to a mount without "
                  "read_only, or to another path.", file=sys.stderr, flush=True)
        return kept

    def sync(self) -> list[str]:
        """After an invocation: push, then pull what others wrote meanwhile (the next one sees it)."""
        kept = self.push()
        self.pull()
        return kept

    def changed(self) -> list[str]:
        """Paths of the copy that differ from its last sync: new, edited or removed files and links (an
        empty directory's marker is not a file: left out)."""
        state, directory = self._load_state(COPY), self.directory
        present = {rel: path for rel, path in sync_entries(directory) if not rel.endswith("/")}
        edited = [rel for rel, path in present.items() if rel not in state or not unchanged_since_sync(path, state[rel])]
        return sorted(edited + [rel for rel in state if rel not in present and not rel.endswith("/")])

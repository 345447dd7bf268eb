"""`CloudBucketMount`: an S3 bucket (or a prefix of one) at a path of the function's containers.

>>> @app.function(volumes={"/data": toolkit.CloudBucketMount("my-bucket", key_prefix="in/",
...                                                          secret=toolkit.Secret.from_name("aws"))})
... def f(): open("/data/report.csv")   # the object in/report.csv

Neither Lambda nor Fargate can mount S3 as a file system, and a laptop has no such mount either, so
toolkit *syncs*: before the function runs, a container downloads the objects under ``key_prefix``
into a directory at the mount path; after each invocation it uploads what changed there (new and
edited files, deletions) and downloads what others changed (`runtime.volumes.buckets`).  With
``read_only=True`` nothing is ever uploaded, and a container that wrote there says which files it
did not upload.  docs/volumes.md has the trade-offs (no partial reads, whole files per change).

Credentials: the ``secret``'s ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (and
``AWS_SESSION_TOKEN``, ``AWS_REGION``) sign the requests, as on the hosted platform.  Without a
secret, the container's own credentials: your AWS profile locally, the function's role when
deployed (the deploy grants it exactly this bucket and prefix); no credentials at all means
unsigned requests, for public buckets.  ``oidc_auth_role_arn`` is assumed with those credentials.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.manifest import BucketMount
from toolkit import config
from toolkit.exception import InvalidError
from toolkit.secret import Secret

if TYPE_CHECKING:
    from runtime.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LOCAL_SYNC_EVERY_S", "CloudBucketMount", "mount_in_worker", "sync_after_requests", "sync_periodically"]

LOCAL_SYNC_EVERY_S = 5.0  # a local web_server's bucket sync period (TOOLKIT_BUCKET_SYNC_S): short, a laptop pays no LISTs


@dataclass(frozen=True)
class CloudBucketMount:
    """Where a bucket's objects come from; mount it with ``volumes={path: CloudBucketMount(...)}``."""

    bucket_name: str
    bucket_endpoint_url: str | None = None
    key_prefix: str | None = None
    secret: Secret | None = None
    oidc_auth_role_arn: str | None = None
    read_only: bool = False
    requester_pays: bool = False
    force_path_style: bool = False

    def __post_init__(self) -> None:
        where = f"CloudBucketMount({self.bucket_name!r})"
        if not isinstance(self.bucket_name, str) or not self.bucket_name:
            raise InvalidError(f"CloudBucketMount(bucket_name={self.bucket_name!r}): name the bucket, e.g. 'my-bucket'.")
        if self.key_prefix is not None and not self.key_prefix.endswith("/"):
            raise InvalidError(f"{where}: key_prefix={self.key_prefix!r} must end with '/' (a directory of the "
                               f"bucket), e.g. key_prefix={self.key_prefix + '/'!r}.")
        if self.secret is not None and not isinstance(self.secret, Secret):
            raise InvalidError(f"{where}: secret={self.secret!r} must be a toolkit.Secret holding AWS_ACCESS_KEY_ID "
                               "and AWS_SECRET_ACCESS_KEY, e.g. toolkit.Secret.from_name('aws-keys').")
        if self.requester_pays and self.secret is None and self.oidc_auth_role_arn is None:
            raise InvalidError(f"{where}: requester_pays=True needs credentials to bill; pass secret= "
                               "(or oidc_auth_role_arn=).")

    def manifest_entry(self, path: str) -> BucketMount:
        """The inert record of this mount at ``path`` (the manifest keeps the secret's name, never its values)."""
        return BucketMount(path=path, bucket_name=self.bucket_name, endpoint_url=self.bucket_endpoint_url,
                           key_prefix=self.key_prefix or "", secret=None if self.secret is None else self.secret.name,
                           oidc_auth_role_arn=self.oidc_auth_role_arn, read_only=self.read_only,
                           requester_pays=self.requester_pays, force_path_style=self.force_path_style)

    def credentials(self) -> dict[str, str]:
        """The secret's values, locally (toolkit's secret store, or the inline dict); {} without a secret."""
        from toolkit.secret_store import read_named

        if self.secret is None:
            return {}
        return read_named(self.secret.name) if self.secret.source == "named" else self.secret.values()


def mount_in_worker(mounts: Sequence[tuple[str, CloudBucketMount]],
                    entries: Sequence[Sequence[Any]] | None = None,
                    known: Sequence[tuple[str, CloudBucketMount]] = ()) -> None:
    """A local worker's start: each bucket synced into a copy under ``$TOOLKIT_HOME/bucket-mounts``, linked
    at its path (shared by the workers that mount the same bucket the same way).  `runtime.volumes.mounts`
    syncs them again after each input.  ``entries`` (manifest `BucketMount` fields), when given, are the
    pool's own mounts (a ``with_options`` variant's) instead of ``mounts``, the function's; their secrets
    are found among ``mounts`` and ``known`` (the module's variants: an inline secret has no other home
    here), else by name in toolkit's secret store."""
    wanted = [bucket.manifest_entry(path) for path, bucket in mounts] if entries is None \
        else [BucketMount(*entry) for entry in entries]
    if not wanted:
        return
    from runtime.volumes.mounts import mount_buckets

    by_entry = {bucket.manifest_entry(path): bucket for path, bucket in (*mounts, *known)}

    def credentials(entry: BucketMount) -> dict[str, str]:
        bucket = by_entry.get(entry)
        if bucket is not None:
            return bucket.credentials()
        if entry.secret is None:
            return {}
        from toolkit.secret_store import read_named

        return read_named(entry.secret)  # a variant made after import: its secret must be a named one

    mount_buckets(wanted, config.home() / "bucket-mounts", credentials, isolate=True)


def sync_after_requests(app: ASGIApp) -> ASGIApp:
    """``toolkit serve``'s web workers: ``app`` syncs this process's bucket mounts after each HTTP request,
    before the response's last body part goes out (a client that reads the bucket next sees the
    upload), as a function's worker does after each input.  ``app`` itself where nothing is mounted."""
    import asyncio

    from runtime.volumes.mounts import bucket_paths, commit_all

    if not bucket_paths():
        return app

    async def synced(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_after_sync(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await asyncio.to_thread(commit_all)
            await send(message)

        await app(scope, receive, send_after_sync if scope["type"] == "http" else send)

    return synced


def sync_periodically() -> None:
    """``toolkit serve``'s worker of a ``web_server``: its requests go straight to the user's own server and
    never end in toolkit, so its bucket mounts sync every ``TOOLKIT_BUCKET_SYNC_S`` seconds
    (`LOCAL_SYNC_EVERY_S` by default), and once more when it stops.  Nothing where nothing is mounted."""
    from runtime.environment import ContainerEnv
    from runtime.volumes.mounts import bucket_paths, start_periodic_sync

    if bucket_paths():
        start_periodic_sync(ContainerEnv.from_environ().bucket_sync_s or LOCAL_SYNC_EVERY_S)

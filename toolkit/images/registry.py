"""Where images go: a registry host plus credentials, and the two questions asked of it
(does this tag exist, with which digest; does this base exist) over the Distribution API.

ECR is the default (``get_authorization_token`` gives a 12-hour basic-auth pair); a
``--registry`` / ``TOOLKIT_REGISTRY`` override serves tests and air-gapped users.  Loopback
registries (and any listed in ``TOOLKIT_INSECURE_REGISTRIES``) are spoken to over plain HTTP.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
from dataclasses import dataclass
from typing import Any

import httpx

from toolkit.images.errors import RegistryError
from toolkit.images.refs import DOCKER_HUB, ImageRef

REGISTRY_ENV = "TOOLKIT_REGISTRY"
INSECURE_ENV = "TOOLKIT_INSECURE_REGISTRIES"
MANIFEST_TYPES = ", ".join((
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
_HOSTS = {DOCKER_HUB: "registry-1.docker.io"}


@dataclass(frozen=True)
class ImageRegistry:
    host: str                                   # e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com
    credentials: tuple[str, str] | None = None  # (username, password) for login and lookups
    create_repository: Any = None               # callable(repository) for registries that need it (ECR)

    @property
    def insecure(self) -> bool:
        return is_insecure(self.host)

    def ensure_repository(self, repository: str) -> None:
        if self.create_repository is not None:
            self.create_repository(repository)


def is_insecure(host: str) -> bool:
    listed = {h.strip() for h in os.environ.get(INSECURE_ENV, "").split(",") if h.strip()}
    return host in listed or host.rsplit(":", 1)[0] in ("localhost", "127.0.0.1", "[::1]")


def from_option(value: str | None) -> ImageRegistry | None:
    """The override registry (option, else env), or None to fall back to ECR."""
    host = (value or os.environ.get(REGISTRY_ENV) or "").strip().rstrip("/")
    if not host:
        return None
    if "://" in host:
        host = host.split("://", 1)[1]
    return ImageRegistry(host)


def ecr(session: Any = None) -> ImageRegistry:
    """The caller's ECR registry, authenticated with ``ecr.get_authorization_token``."""
    try:
        import boto3
        import botocore.exceptions
    except ImportError as exc:  # the aws extra is not installed
        raise RegistryError("Pushing to ECR needs boto3 (the aws extra): pip install 'toolkit-serverless[aws]', "
                            "or pass --registry.") from exc
    client = (session or boto3.session.Session()).client("ecr")
    try:
        data = client.get_authorization_token()["authorizationData"][0]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise RegistryError(f"Cannot get an ECR login ({exc}); configure AWS credentials and a region, "
                            "or pass --registry HOST[:PORT] (or set TOOLKIT_REGISTRY).") from exc
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    host = data["proxyEndpoint"].split("://", 1)[-1].rstrip("/")
    return ImageRegistry(host, (user, password), lambda repo: _create_ecr_repository(client, repo))


def _create_ecr_repository(client: Any, repository: str) -> None:
    with contextlib.suppress(client.exceptions.RepositoryAlreadyExistsException):
        # tags are content hashes, so they never need to move
        client.create_repository(repositoryName=repository, imageTagMutability="IMMUTABLE")


# -- lookups over the Distribution API ----------------------------------------------------------

def manifest_digest(ref: ImageRef, credentials: tuple[str, str] | None = None, timeout: float = 10.0) -> str | None:
    """The digest the registry holds for ``ref``, or None when it has no such manifest.
    Raises RegistryError when the registry cannot be asked (unreachable, refused)."""
    host = _HOSTS.get(ref.registry, ref.registry)
    scheme = "http" if is_insecure(ref.registry) else "https"
    url = f"{scheme}://{host}/v2/{ref.repository}/manifests/{ref.reference}"
    headers = {"Accept": MANIFEST_TYPES}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as http:
            if credentials:
                response = http.head(url, headers=headers, auth=httpx.BasicAuth(*credentials))
            else:
                response = http.head(url, headers=headers)
            if response.status_code == 401:
                token = _bearer_token(http, response, credentials)
                if token:
                    response = http.head(url, headers={**headers, "Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise RegistryError(f"Cannot reach registry {ref.registry!r} ({exc}).") from exc
    if response.status_code == 404:
        return None
    if response.status_code >= 400:
        raise RegistryError(f"Registry {ref.registry!r} answered {response.status_code} for {ref}.")
    return response.headers.get("Docker-Content-Digest") or None


def _bearer_token(http: httpx.Client, challenge: httpx.Response, credentials: tuple[str, str] | None) -> str | None:
    """The token-auth dance (docker.io, ghcr.io): anonymous unless credentials were given."""
    header = challenge.headers.get("WWW-Authenticate", "")
    if not header.lower().startswith("bearer "):
        return None
    params = dict(re.findall(r'(\w+)="([^"]*)"', header))
    realm = params.pop("realm", None)
    if not realm:
        return None
    if credentials:
        response = http.get(realm, params=params, auth=httpx.BasicAuth(*credentials))
    else:
        response = http.get(realm, params=params)
    if response.status_code >= 400:
        return None
    body = response.json()
    token = body.get("token") or body.get("access_token")
    return str(token) if token else None

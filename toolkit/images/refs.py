"""Image references (``[registry/]repository[:tag][@digest]``) and base-image mirrors.

A reference is normalised the way docker does it (``python:3.11`` is
``docker.io/library/python:3.11``) so that a mirror rule written against the long form
also catches the short one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from toolkit.images.errors import ImageError

DOCKER_HUB = "docker.io"
MIRRORS_ENV = "TOOLKIT_BASE_MIRRORS"
_REF_RE = re.compile(r"^[a-z0-9]+([._:/@-][A-Za-z0-9_.+-]+)*$")
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @staticmethod
    def parse(ref: str) -> ImageRef:
        if not _REF_RE.match(ref):
            raise ImageError(f"{ref!r} is not an image reference; write e.g. 'python:3.11-slim' or "
                             "'registry.example.com/team/image:tag'.")
        rest, _, digest = ref.partition("@")
        first, slash, remainder = rest.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            registry, path = first, remainder
        else:
            registry, path = DOCKER_HUB, rest
        name, tag = _split_tag(path)
        if registry == DOCKER_HUB and "/" not in name:
            name = f"library/{name}"
        if not tag and not digest:
            tag = "latest"
        return ImageRef(registry, name, tag or None, digest or None)

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What a registry's manifest endpoint takes: the digest if pinned, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def is_local_only(self) -> bool:
        """podman's convention: ``localhost/name`` (no port) lives only in the local store."""
        return self.registry == "localhost"

    @property
    def is_loopback(self) -> bool:
        return self.registry.rsplit(":", 1)[0] in _LOOPBACK if not self.is_local_only else True

    def with_tag(self, tag: str) -> ImageRef:
        return ImageRef(self.registry, self.repository, tag, None)

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def _split_tag(path: str) -> tuple[str, str]:
    head, colon, tail = path.rpartition(":")
    if colon and "/" not in tail:
        return head, tail
    return path, ""


def parse_mirrors(text: str | None) -> dict[str, str]:
    """``FROM=TO`` pairs separated by commas, semicolons or newlines (the env/option format)."""
    rules: dict[str, str] = {}
    for item in re.split(r"[,;\n]", text or ""):
        if not item.strip():
            continue
        source, eq, target = item.partition("=")
        if not eq or not source.strip() or not target.strip():
            raise ImageError(f"Base mirror rule {item.strip()!r} must look like FROM=TO, e.g. "
                             "'docker.io/library/python=localhost:5000/python'.")
        rules[source.strip()] = target.strip()
    return rules


def mirrors_from_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    rules = parse_mirrors(os.environ.get(MIRRORS_ENV))
    rules.update(extra or {})
    return rules


def apply_mirrors(ref: str, mirrors: Mapping[str, str]) -> str:
    """Redirect ``ref`` through the first matching rule: an exact reference, else the longest
    repository prefix (the tag and digest are kept)."""
    parsed = ImageRef.parse(ref)
    full = str(parsed)
    for source, target in mirrors.items():
        if _same_ref(source, full):
            return target
    for source in sorted(mirrors, key=len, reverse=True):
        prefix = _normal_name(source)
        if parsed.name == prefix or parsed.name.startswith(prefix + "/"):
            tail = full[len(prefix):]
            return mirrors[source].rstrip("/") + tail
    return full


def _same_ref(rule: str, full: str) -> bool:
    has_version = "@" in rule or ":" in rule.rsplit("/", 1)[-1]
    return has_version and str(ImageRef.parse(rule)) == full


def _normal_name(rule: str) -> str:
    return ImageRef.parse(rule).name

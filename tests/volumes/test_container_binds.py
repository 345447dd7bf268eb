"""What `toolkit serve --containers` binds into a function's container for its volumes (`container_binds`), and
what it refuses before building anything (the podman end to end: tests/images/test_serve_containers_volumes.py)."""

from __future__ import annotations

import pytest

import toolkit
from runtime.manifest import BucketMount, VolumeMount
from toolkit.exception import NotSupportedError
from toolkit.volume import BUCKET_ENV, container_binds, volumes_root


def test_local_volumes_bind_at_their_staging_paths_read_only_with_ro() -> None:
    binds = container_binds("f", [VolumeMount("/notes", "notes", create_if_missing=True),
                                  VolumeMount("/w", "notes", read_only=True)], [])
    assert binds == [(str(volumes_root() / "notes"), "/tmp/toolkit-mounts/notes", False),
                     (str(volumes_root() / "notes"), "/tmp/toolkit-mounts/w", True)]
    assert (volumes_root() / "notes").is_dir()  # create_if_missing made it before the container starts


def test_what_cannot_be_bound_is_refused_naming_the_alternative(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(toolkit.NotFoundError, match=r"f mounts volume 'absent' at /a.*toolkit volume create absent"):
        container_binds("f", [VolumeMount("/a", "absent")], [])
    with pytest.raises(NotSupportedError, match=r"CloudBucketMount 'raw' at /raw.*Instead, serve without --containers"):
        container_binds("f", [], [BucketMount("/raw", "raw")])
    monkeypatch.setenv(BUCKET_ENV, "deployed-volumes")
    with pytest.raises(NotSupportedError, match=rf"{BUCKET_ENV} points this machine.*Instead, unset"):
        container_binds("f", [VolumeMount("/a", "a", create_if_missing=True)], [])

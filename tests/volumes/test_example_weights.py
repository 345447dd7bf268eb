"""examples/volume_weights.py: the first container downloads the weights into the volume, every later
one (a new `toolkit run`, so new workers) reads them from it; on the local store and on S3 (moto),
where the second run starts from an empty /tmp copy as a fresh deployed container would."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from volume_support import REPO, toolkit_run

from runtime.volumes.s3 import DEFAULT_CACHE
from toolkit.volume import BUCKET_ENV

pytestmark = pytest.mark.timeout(240)
EXAMPLE = str(REPO / "examples" / "volume_weights.py")


@pytest.mark.parametrize("store", ["local", "s3"])
def test_weights_are_downloaded_once_and_shared(store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                request: pytest.FixtureRequest) -> None:
    monkeypatch.setenv("WEIGHTS_MOUNT", str(tmp_path / "models"))
    bucket = None
    if store == "s3":
        bucket = request.getfixturevalue("volume_bucket")
        monkeypatch.setenv(BUCKET_ENV, bucket)
    first = toolkit_run(EXAMPLE, "--text", "hello")
    assert "'downloaded_weights': True" in first and "cache: ['tiny-model/weights.bin 1048576']" in first
    if bucket is not None:
        shutil.rmtree(Path(DEFAULT_CACHE) / bucket)  # the next container starts with nothing under /tmp
    second = toolkit_run(EXAMPLE, "--text", "hello")
    assert "'downloaded_weights': False" in second and "cache: ['tiny-model/weights.bin 1048576']" in second
    digests = [re.findall(r"'digest': '(\w+)'", out) for out in (first, second)]
    assert digests[0] == digests[1] and len(digests[0]) == 1  # the same weights, read back from the volume

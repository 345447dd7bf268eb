"""``toolkit volume``: the CLI as a user runs it (a real process), on the local store and on S3 (moto)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from volume_support import REPO

from toolkit.volume import BUCKET_ENV

pytestmark = pytest.mark.timeout(240)


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "toolkit.cli.__main__", "volume", *args], cwd=REPO,
                          env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return proc


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "s3":
        monkeypatch.setenv(BUCKET_ENV, request.getfixturevalue("volume_bucket"))
    return str(request.param)


def test_create_put_ls_get_cp_rm_delete(store: str, tmp_path: Path) -> None:
    src = tmp_path / "weights"
    (src / "layers").mkdir(parents=True)
    (src / "config.json").write_text('{"dim": 4}')
    (src / "layers" / "0.bin").write_bytes(b"\x01" * 1000)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 << 20))  # over the progress-bar threshold

    assert "ready" in cli("create", "models").stdout
    assert cli("list").stdout.split() == ["models"]
    cli("put", "models", str(src), "/")  # a directory keeps its name inside "/"
    cli("put", "models", str(big), "/blobs/big.bin")
    assert "already exists in volume 'models'; pass --force" in cli("put", "models", str(big), "/blobs/big.bin",
                                                                      ok=False).stderr
    listing = cli("ls", "models", "/", "-r").stdout
    for path in ("weights/config.json", "weights/layers/0.bin", "blobs/big.bin"):
        assert path in listing
    assert "20,971,520" in listing

    out = tmp_path / "out"
    out.mkdir()
    cli("get", "models", "/blobs/big.bin", str(out))
    assert (out / "big.bin").read_bytes() == big.read_bytes()
    cli("get", "models", "/weights", str(out))
    assert (out / "weights" / "layers" / "0.bin").read_bytes() == b"\x01" * 1000
    assert cli("get", "models", "/weights/config.json", "-").stdout == '{"dim": 4}'

    cli("cp", "models", "/weights/config.json", "/backup/")
    assert "backup/config.json" in cli("ls", "models", "/backup").stdout
    assert "not empty" in cli("rm", "models", "/weights", ok=False).stderr
    cli("rm", "models", "/weights", "-r")
    assert "No file or directory '/weights'" in cli("ls", "models", "/weights", ok=False).stderr
    cli("delete", "models", "--yes")
    assert "No volumes" in cli("list").stdout
    assert "No Volume named 'models'" in cli("ls", "models", ok=False).stderr

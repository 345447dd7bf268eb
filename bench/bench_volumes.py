"""Volume write then read on the local store, against plain file copies in the same run.

    python bench/bench_volumes.py [--small 1000] [--big-mib 500] [--repeat 3]

* 1,000 small files (4 KiB): ``batch_upload().put_directory`` then ``read_file`` of each, vs
  ``shutil.copytree`` then ``open().read()`` of each.
* one large file (500 MiB): ``batch_upload().put_file`` then streaming ``read_file``, vs
  ``shutil.copyfile`` then reading it in 1 MiB chunks.
The volume writes through a temporary name and renames into place (readers never see half a file);
that and its path checks are the overhead measured.  The best of ``--repeat`` runs is reported,
with the ratio volume/plain (1.0 = as fast as a plain copy).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TOOLKIT_HOME", tempfile.mkdtemp(prefix="toolkit-bench-"))
os.environ.pop("TOOLKIT_VOLUME_BUCKET", None)

import toolkit  # noqa: E402

CHUNK = 1 << 20


def best(repeat: int, once: Callable[[int], None]) -> float:
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        once(i)
        times.append(time.perf_counter() - start)
    return min(times)


def small_files(root: Path, n: int) -> Path:
    src = root / "small"
    src.mkdir()
    for i in range(n):
        (src / f"f{i:05d}.bin").write_bytes(os.urandom(4096))
    return src


def big_file(root: Path, mib: int) -> Path:
    path = root / "big.bin"
    block = os.urandom(CHUNK)
    with path.open("wb") as f:
        for _ in range(mib):
            f.write(block)
    return path


def volume_small(src: Path, repeat: int) -> float:
    def once(i: int) -> None:
        vol = toolkit.Volume.from_name(f"bench-small-{i}", create_if_missing=True)
        with vol.batch_upload() as batch:
            batch.put_directory(src, "/d")
        for entry in vol.listdir("/d"):
            b"".join(vol.read_file(entry.path))
        toolkit.Volume.delete(vol.name)

    return best(repeat, once)


def plain_small(src: Path, root: Path, repeat: int) -> float:
    def once(i: int) -> None:
        dst = root / f"plain-small-{i}"
        shutil.copytree(src, dst)
        for path in sorted(dst.iterdir()):
            path.read_bytes()
        shutil.rmtree(dst)

    return best(repeat, once)


def volume_big(src: Path, repeat: int) -> float:
    def once(i: int) -> None:
        vol = toolkit.Volume.from_name(f"bench-big-{i}", create_if_missing=True)
        with vol.batch_upload() as batch:
            batch.put_file(src, "/big.bin")
        for _chunk in vol.read_file("/big.bin"):
            pass
        toolkit.Volume.delete(vol.name)

    return best(repeat, once)


def plain_big(src: Path, root: Path, repeat: int) -> float:
    def once(i: int) -> None:
        dst = root / f"plain-big-{i}.bin"
        shutil.copyfile(src, dst)
        with dst.open("rb") as f:
            while f.read(CHUNK):
                pass
        dst.unlink()

    return best(repeat, once)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--big-mib", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="toolkit-bench-files-") as tmp:
        root = Path(tmp)
        src = small_files(root, args.small)
        rows = [(f"{args.small} x 4 KiB write+read", volume_small(src, args.repeat), plain_small(src, root, args.repeat))]
        big = big_file(root, args.big_mib)
        rows.append((f"1 x {args.big_mib} MiB write+read", volume_big(big, args.repeat), plain_big(big, root, args.repeat)))
    print(f"{'case':<28} {'volume s':>9} {'plain s':>9} {'ratio':>6}")
    for case, vol, plain in rows:
        print(f"{case:<28} {vol:>9.3f} {plain:>9.3f} {vol / plain:>6.2f}")


if __name__ == "__main__":
    main()

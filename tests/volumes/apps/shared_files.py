"""Functions that share one volume, mounted where VOLUME_TEST_MOUNT says (a path per test)."""

import os
import time

import toolkit

MOUNT = os.environ["VOLUME_TEST_MOUNT"]
app = toolkit.App(os.environ.get("VOLUME_TEST_APP", "volumes-shared"))
vol = toolkit.Volume.from_name(os.environ.get("VOLUME_TEST_NAME", "shared"), create_if_missing=True)


@app.function(volumes={MOUNT: vol})
def write(name: str, text: str) -> int:
    path = os.path.join(MOUNT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    vol.commit()
    return os.getpid()


@app.function(volumes={MOUNT: vol}, max_containers=4)
def write_slowly(name: str) -> int:
    """Holds its worker a moment, so concurrent inputs land in several workers."""
    time.sleep(0.2)
    return write.local(name, name.upper())


@app.function(volumes={MOUNT: vol})
def read(name: str) -> str:
    vol.reload()
    with open(os.path.join(MOUNT, name)) as f:
        return f.read()


@app.function(volumes={MOUNT: vol})
def listing() -> list[str]:
    vol.reload()
    return sorted(os.listdir(MOUNT))

"""One volume mounted writable by `seed` and read-only by `scribble` (at VOLUME_TEST_MOUNT and its
sibling ``-ro``): the read-only worker reads what was seeded, and its writes are refused on disk."""

import os

import toolkit

MOUNT = os.environ["VOLUME_TEST_MOUNT"]
READ_ONLY = MOUNT + "-ro"
app = toolkit.App(os.environ.get("VOLUME_TEST_APP", "volumes-read-only"))
vol = toolkit.Volume.from_name(os.environ.get("VOLUME_TEST_NAME", "frozen"), create_if_missing=True)


@app.function(volumes={MOUNT: vol})
def seed(text: str) -> None:
    with open(os.path.join(MOUNT, "seed.txt"), "w") as f:
        f.write(text)


@app.function(volumes={READ_ONLY: vol.read_only()})
def scribble() -> dict:
    """Reads the seed, then tries to change the volume three ways; each refusal's errno is returned."""
    refused = {}
    attempts = {"create": lambda: _write(os.path.join(READ_ONLY, "scribble.txt")),
                "overwrite": lambda: _write(os.path.join(READ_ONLY, "seed.txt")),
                "remove": lambda: os.remove(os.path.join(READ_ONLY, "seed.txt"))}
    for what, attempt in attempts.items():
        try:
            attempt()
            refused[what] = None
        except OSError as exc:
            refused[what] = exc.errno
    with open(os.path.join(READ_ONLY, "seed.txt")) as f:
        return {"seed": f.read(), "refused": refused}


def _write(path: str) -> None:
    with open(path, "w") as f:
        f.write("scribbled")

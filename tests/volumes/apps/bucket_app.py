"""Functions that mount a bucket of a moto server (BUCKET_TEST_ENDPOINT) with CloudBucketMount: one
writable mount of the prefix ``in/`` and one read-only mount of the same prefix."""

import asyncio
import os

import toolkit

ENDPOINT, BUCKET = os.environ["BUCKET_TEST_ENDPOINT"], os.environ["BUCKET_TEST_NAME"]
MOUNT, READ_ONLY = os.environ["BUCKET_TEST_MOUNT"], os.environ["BUCKET_TEST_RO_MOUNT"]
keys = toolkit.Secret.from_dict({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                                 "AWS_REGION": "us-east-1"})
app = toolkit.App(os.environ.get("BUCKET_TEST_APP", "bucket-mounts"))


def _bucket(read_only: bool) -> toolkit.CloudBucketMount:
    return toolkit.CloudBucketMount(BUCKET, bucket_endpoint_url=ENDPOINT, key_prefix="in/", secret=keys,
                                    read_only=read_only, force_path_style=True)


@app.function(volumes={MOUNT: _bucket(False)})
def shout(name: str) -> list[str]:
    """Reads an object through the mount, writes its upper-case copy and deletes the original."""
    with open(os.path.join(MOUNT, name)) as f:
        text = f.read()
    os.makedirs(os.path.join(MOUNT, "loud"), exist_ok=True)
    with open(os.path.join(MOUNT, "loud", name), "w") as f:
        f.write(text.upper())
    os.remove(os.path.join(MOUNT, name))
    return sorted(os.listdir(MOUNT))


@app.function(volumes={READ_ONLY: _bucket(True)})
def scribble(name: str) -> dict:
    """Reads through the read-only mount, then writes there anyway: the write is refused on disk (its errno
    is returned) and must never reach the bucket."""
    with open(os.path.join(READ_ONLY, "loud", name)) as f:
        text = f.read()
    try:
        with open(os.path.join(READ_ONLY, "scribbled.txt"), "w") as f:
            f.write("should stay local")
        refused = None
    except OSError as exc:
        refused = exc.errno
    return {"text": text, "refused": refused}


@app.function(volumes={MOUNT: _bucket(False)})
@toolkit.fastapi_endpoint(method="GET")
def visit(name: str) -> dict:
    """A web endpoint writing through the mount: `toolkit serve` uploads it before the response ends."""
    with open(os.path.join(MOUNT, name), "w") as f:
        f.write("visited")
    return {"files": sorted(os.listdir(MOUNT))}


@app.function(volumes={MOUNT: _bucket(False)}, max_containers=1)
@toolkit.concurrent(max_inputs=4)
async def work(mode: str):  # noqa: ANN201 - an async generator
    """``"write"``: writes slow.txt into the mount and ends (its bucket sync follows); a number: that many
    ticks, 20 ms apart, from the same worker's event loop."""
    if mode == "write":
        with open(os.path.join(MOUNT, "slow.txt"), "w") as f:
            f.write("synced off the loop")
        yield "written"
        return
    for tick in range(int(mode)):
        await asyncio.sleep(0.02)
        yield tick

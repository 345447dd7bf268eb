"""A web endpoint that writes into a mounted volume and does not commit: the runtime must."""

import os

import toolkit

MOUNT = os.environ["VOLUME_TEST_MOUNT"]
app = toolkit.App("volumes-web")
vol = toolkit.Volume.from_name("web-notes", create_if_missing=True)


@app.function(volumes={MOUNT: vol})
@toolkit.fastapi_endpoint(method="GET")
def note() -> dict:
    with open(os.path.join(MOUNT, "visited.txt"), "w") as f:
        f.write("streamed")
    return {"ok": True}

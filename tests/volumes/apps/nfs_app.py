"""A program written for the platform's (deprecated) NetworkFileSystem: a writer and a reader sharing one."""

import os

import toolkit

MOUNT = os.environ["VOLUME_TEST_MOUNT"]
app = toolkit.App(os.environ.get("VOLUME_TEST_APP", "nfs-shared"))
nfs = toolkit.NetworkFileSystem.from_name("shared-nfs", create_if_missing=True)


@app.function(network_file_systems={MOUNT: nfs})
def write(name: str, text: str) -> None:
    with open(os.path.join(MOUNT, name), "w") as f:
        f.write(text)  # no commit: an NFS needs none


@app.function(network_file_systems={MOUNT: nfs})
def read(name: str) -> str:
    with open(os.path.join(MOUNT, name)) as f:
        return f.read()

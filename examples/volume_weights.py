"""A weights cache on a Volume, shared by two functions and by every later container.

    toolkit run examples/volume_weights.py

The GPU case end to end: the first container of `Model` finds no weights in the volume, downloads
them once in `@enter` and commits; every later container (another worker, another run, a deployed
GPU task) mounts the volume, reloads, and reads the file instead of downloading it again.
`cache_report`, a plain function, sees the same files at the same mount path.

Locally the volume is a directory under TOOLKIT_HOME, linked at the mount path.  /models needs a
machine that lets toolkit create it (or `sudo ln -sfn ~/.toolkit/volumes/volume-weights-example
/models` once); WEIGHTS_MOUNT picks another path (the test uses one under its temp directory).
"""

import hashlib
import os

import toolkit

app = toolkit.App("volume-weights")
weights = toolkit.Volume.from_name("volume-weights-example", create_if_missing=True)
MODELS = os.environ.get("WEIGHTS_MOUNT", "/models")
WEIGHTS_FILE = "tiny-model/weights.bin"


def download_weights(path: str) -> None:
    """Stands in for a model hub download (huggingface_hub.snapshot_download(..., local_dir=...))."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    block = hashlib.sha256(b"tiny-model").digest()
    with open(path + ".partial", "wb") as f:
        f.write(block * (1 << 15))  # 1 MiB
    os.replace(path + ".partial", path)  # never leave half a file for another container to read


@app.cls(gpu="L4", volumes={MODELS: weights})
class Model:
    @toolkit.enter()
    def load(self) -> None:
        path = os.path.join(MODELS, WEIGHTS_FILE)
        weights.reload()  # another container may have committed the weights since this one started
        self.downloaded_here = not os.path.exists(path)
        if self.downloaded_here:
            download_weights(path)
            weights.commit()  # now every other container can see them
        with open(path, "rb") as f:
            self.weights = f.read()

    @toolkit.method()
    def predict(self, text: str) -> dict:
        digest = hashlib.sha256(self.weights + text.encode()).hexdigest()[:12]
        return {"text": text, "digest": digest, "downloaded_weights": self.downloaded_here}


@app.function(volumes={MODELS: weights})
def cache_report() -> list[str]:
    weights.reload()
    return [f"{entry.path} {entry.size}" for entry in weights.listdir("/", recursive=True)
            if entry.type == toolkit.volume.FileEntryType.FILE]


@app.local_entrypoint()
def main(text: str = "hello") -> None:
    print("predict:", Model().predict.remote(text))
    print("cache:", cache_report.remote())

"""Functions that share state and configuration.

Pattern: a ``Volume`` written then committed by one function and reloaded by another; a named
``Dict`` counting attempts of a function with ``Retries``; an ephemeral ``Queue`` passed to a
spawned producer; ``Secret.from_dict`` over an image's ``.env`` variables; a helper annotated with
``modal.container_process.ContainerProcess`` (evaluated when the module is imported).
"""

import os
import pathlib

import toolkit as modal

image = modal.Image.debian_slim().env({"GREETING": "from-image", "SHARED": "image"})
app = modal.App("northstar-state", image=image)
volume = modal.Volume.from_name("northstar-state-files", create_if_missing=True)
attempts = modal.Dict.from_name("northstar-state-attempts", create_if_missing=True)


def first_line(process: modal.container_process.ContainerProcess) -> str:
    return next(iter(process.stdout))


@app.function(volumes={"/files": volume})
def save(name: str, text: str) -> None:
    pathlib.Path("/files", name).write_text(text)
    volume.commit()


@app.function(volumes={"/files": volume})
def load(name: str) -> str:
    volume.reload()
    return pathlib.Path("/files", name).read_text()


@app.function(retries=modal.Retries(max_retries=3, initial_delay=0.1, backoff_coefficient=1.0))
def flaky() -> str:
    attempts["n"] = attempts.get("n", 0) + 1
    if attempts["n"] < 3:
        raise ConnectionError(f"attempt {attempts['n']} failed")
    return f"succeeded on attempt {attempts['n']}"


@app.function()
def produce(q: modal.Queue, count: int) -> None:
    q.put_many(list(range(count)))
    q.put(None)


@app.function(secrets=[modal.Secret.from_dict({"SHARED": "secret", "TOKEN": "t0k"})])
def settings() -> dict:
    return {name: os.environ.get(name) for name in ("GREETING", "SHARED", "TOKEN")}


@app.local_entrypoint()
def main():
    save.remote("note.txt", "kept between calls")
    print("volume:", load.remote("note.txt"))
    print("listed:", sorted(entry.path for entry in volume.listdir("/")))
    attempts["n"] = 0
    print("retries:", flaky.remote())
    with modal.Queue.ephemeral() as q:
        produce.spawn(q, 5)
        items = []
        while (item := q.get(timeout=30)) is not None:
            items.append(item)
    print("queue:", items)
    print("settings:", sorted(settings.remote().items()))

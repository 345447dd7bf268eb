"""A function whose named secret must hold two keys (``Secret.from_name(..., required_keys=[...])``)."""

import os

import toolkit as modal

app = modal.App("northstar-secret-keys")


@app.function(secrets=[modal.Secret.from_name("northstar-kaggle", required_keys=["KAGGLE_TOKEN", "KAGGLE_USER"])])
def whoami() -> str:
    return os.environ["KAGGLE_USER"]


@app.local_entrypoint()
def main() -> None:
    print("user:", whoami.remote())

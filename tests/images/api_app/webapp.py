"""The app the image-API container test builds: uv_pip_install, uv_sync, run_function, an entrypoint
wrapper and image.imports(), each observable from inside the running image."""

import os

import toolkit

MODEL = "tiny-model"


def fetch_model(name: str) -> None:
    os.makedirs("/opt/models", exist_ok=True)
    with open(f"/opt/models/{name}.txt", "w") as f:
        f.write(f"{MODEL}:{name}")


image = (
    toolkit.Image.debian_slim("3.11")
    .uv_pip_install("tabulate==0.9.0")
    .uv_sync("proj")
    .run_function(fetch_model, args=("weights",))
    .entrypoint(["/bin/sh", "-c", 'echo "$0" > /tmp/wrapped; exec "$@"', "wrapper-ran"])
)
other = toolkit.Image.debian_slim("3.11").pip_install("toolkit-test-never-installed")

with image.imports():
    import tabulate
    import toolz

    if os.environ.get("IMPORT_MISSING"):  # the test's switch: a failing import inside this image
        import toolkit_test_never_installed  # noqa: F401

with other.imports():  # another image's imports stay soft here too
    import toolkit_test_never_installed  # noqa: F401,F811

app = toolkit.App("image-api-demo", image=image)


@app.function()
@toolkit.fastapi_endpoint()
def info():
    with open("/opt/models/weights.txt") as f:
        model = f.read()
    with open("/tmp/wrapped") as f:
        wrapped = f.read().strip()
    return {"tabulate": tabulate.__version__, "toolz": toolz.__version__, "model": model, "wrapped": wrapped,
            "deferred": [type(e).__name__ for e in image.import_errors],
            "other_deferred": [type(e).__name__ for e in other.import_errors]}

"""A function that calls a function living in another image.

Pattern: ``outer`` (no packages of its own) calls ``inner``, whose image pins a package version
that differs from the caller's; ``inner`` must see its own image's version wherever it is called
from (``toolkit run``, or the script's own ``app.run()``), as each function runs in its own container
on the hosted platform.
"""

import toolkit as modal

pinned = modal.Image.debian_slim().pip_install("starlette==0.37.2")
app = modal.App("northstar-nested-image")


@app.function(image=pinned)
def inner() -> str:
    import starlette

    return starlette.__version__


@app.function()
def outer() -> str:
    return inner.remote()


@app.local_entrypoint()
def main():
    print("direct:", inner.remote())
    print("nested:", outer.remote())


if __name__ == "__main__":
    with app.run():
        print("script:", outer.remote())

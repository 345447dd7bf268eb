"""The first program people write: one function called here, there and over many inputs.

Pattern: ``.local`` / ``.remote`` / ``.map`` from a ``local_entrypoint`` taking a CLI option, a
generator through ``.remote_gen``, output on stdout and stderr from the workers.
"""

import sys

import toolkit as modal

app = modal.App("northstar-basics")


@app.function()
def cube(n):
    stream = sys.stdout if n % 2 == 0 else sys.stderr
    print(f"cubing {n}", file=stream)
    return n**3


@app.function()
def countdown(start: int):
    yield from range(start, 0, -1)


@app.local_entrypoint()
def main(count: int = 10):
    print("local:", cube.local(3))
    print("remote:", cube.remote(4))
    print("map total:", sum(cube.map(range(count))))
    print("starmap:", list(cube.starmap([(2,), (5,)])))
    print("countdown:", list(countdown.remote_gen(4)))

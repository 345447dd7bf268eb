"""Plain functions: .remote, .map, .spawn, generators, and a local entrypoint.

    toolkit run examples/hello.py --n 5
    toolkit run examples/hello.py::square --x 7
"""

import toolkit

app = toolkit.App("hello")


@app.function()
def square(x: int) -> int:
    return x * x


@app.function()
def countdown(n: int):
    yield from range(n, 0, -1)


@app.local_entrypoint()
def main(n: int = 10) -> None:
    print("square(7) =", square.remote(7))
    print("map:", list(square.map(range(n))))
    call = square.spawn(12)
    print("spawned", call.object_id, "->", call.get(timeout=30))
    print("countdown:", list(countdown.remote_gen(3)))

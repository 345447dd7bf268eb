"""Dynamic batching: callers send single inputs, the function runs over lists.

``toolkit run examples/batching.py`` sends 8 single inputs at once; a worker collects up to
``max_batch_size`` of them (waiting at most ``wait_ms`` after the first) and calls the function
once per batch.  Written over lists, it returns one result per input, in order.
"""

import toolkit

app = toolkit.App("batching")


@app.function()
@toolkit.batched(max_batch_size=4, wait_ms=200)
def add(xs: list[int], ys: list[int]) -> list[int]:
    return [x + y for x, y in zip(xs, ys, strict=True)]


@app.function()
@toolkit.batched(max_batch_size=8, wait_ms=500)
async def batch_sizes(xs: list[int]) -> list[int]:
    # each input learns the size of the batch it ran in
    return [len(xs)] * len(xs)


@app.cls()
class Scaler:
    factor: int = toolkit.parameter(default=10)

    @toolkit.batched(max_batch_size=16, wait_ms=100)
    def scale(self, xs: list[float]) -> list[float]:
        return [x * self.factor for x in xs]


@app.local_entrypoint()
async def main(n: int = 8) -> str:
    sums = [s async for s in add.starmap.aio([(i, 100) for i in range(n)])]
    sizes = list(batch_sizes.map(range(n)))
    scaled = await Scaler(factor=3).scale.remote.aio(2.0)
    return f"sums={sums} largest_batch={max(sizes)} scaled={scaled}"

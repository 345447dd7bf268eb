"""Async callers and dynamic batching.

Pattern: an ``async`` local entrypoint awaiting ``.remote.aio`` calls together, iterating
``.remote_gen.aio`` and ``.map.aio``, ``.spawn.aio`` then ``.get.aio``; a ``@batched`` function and a
class whose method is ``@batched``, each called with single inputs.
"""

import asyncio

import toolkit as modal

app = modal.App("northstar-async-batched")


@app.function()
async def halve(x: float) -> float:
    await asyncio.sleep(0.05)
    return x / 2


@app.function()
def letters(word: str):
    yield from word


@app.function()
@modal.batched(max_batch_size=3, wait_ms=200)
async def lengths(words: list[str]) -> list[int]:
    return [len(w) for w in words]


@app.cls()
class Upper:
    @modal.batched(max_batch_size=4, wait_ms=200)
    def shout(self, words: list[str]) -> list[str]:
        return [w.upper() for w in words]


@app.local_entrypoint()
async def main():
    print("halves:", await asyncio.gather(*(halve.remote.aio(v) for v in (2, 4, 6))))
    print("letters:", "".join([c async for c in letters.remote_gen.aio("abc")]))
    print("lengths:", [n async for n in lengths.map.aio(["a", "bb", "ccc", "dddd"])])
    print("shouted:", [w async for w in Upper().shout.map.aio(["x", "yz"])])
    call = await halve.spawn.aio(10)
    print("spawned:", await call.get.aio())

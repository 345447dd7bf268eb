"""Async calls: every call has an ``.aio`` twin, and ``toolkit run`` awaits an async local entrypoint.

    toolkit run examples/async_calls.py --n 5
"""

import asyncio

import toolkit

app = toolkit.App("async-calls")


@app.function()
def square(x: int) -> int:
    return x * x


@app.function()
def countdown(n: int):
    yield from range(n, 0, -1)


@app.cls()
class Scaler:
    factor: int = toolkit.parameter(default=2)

    @toolkit.method()
    def scale(self, x: int) -> int:
        return x * self.factor


@app.local_entrypoint()
async def main(n: int = 4) -> str:
    one, two = await asyncio.gather(square.remote.aio(n), square.remote.aio(n + 1))  # both at once
    mapped = [y async for y in square.map.aio(range(n))]
    counted = [y async for y in countdown.remote_gen.aio(3)]
    call = await square.spawn.aio(7)
    spawned = await call.get.aio(timeout=60)
    gathered = await toolkit.FunctionCall.gather.aio(square.spawn(2), square.spawn(3))
    scaled = await Scaler(factor=10).scale.remote.aio(n)
    return f"{one} {two} {mapped} {counted} {spawned} {gathered} {scaled}"

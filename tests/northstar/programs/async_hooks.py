"""An async model server: ``async def`` ``@enter`` and ``@exit`` hooks (the platform awaits both) around an
async generator method, called from an async entrypoint."""

import asyncio

import toolkit as modal

app = modal.App("northstar-async-hooks")


@app.cls()
class Engine:
    @modal.enter()
    async def start(self) -> None:
        await asyncio.sleep(0)
        self.prefix = "ready"
        self.loop = asyncio.get_running_loop()  # what a connection pool made here is bound to

    @modal.exit()
    async def stop(self) -> None:
        await asyncio.sleep(0)
        print("engine stopped", flush=True)

    @modal.method()
    async def tokens(self, prompt: str):
        for word in prompt.split():
            await asyncio.sleep(0)
            yield f"{self.prefix}:{word}"

    @modal.method()
    async def same_loop(self) -> bool:
        return asyncio.get_running_loop() is self.loop


@app.local_entrypoint()
async def main() -> None:
    print("tokens:", [t async for t in Engine().tokens.remote_gen.aio("a b")])
    print("local:", [t async for t in Engine().tokens.local("c")])
    print("same loop:", await Engine().same_loop.remote.aio())

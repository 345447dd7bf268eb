"""Detached calls at the end of a run: ``spawn_map`` fire-and-forget and a ``spawn`` never waited for,
still running when the entrypoint returns, next to a spawned call that is waited for."""

import time

import toolkit as modal

app = modal.App("northstar-detached")


@app.function()
def linger(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@app.function()
def quick(n: int) -> int:
    return n + 1


@app.local_entrypoint()
def main() -> None:
    waited = quick.spawn(41)
    linger.spawn_map([30.0])  # returns nothing: nobody can wait for it
    linger.spawn(30.0)
    print("waited:", waited.get(timeout=60))

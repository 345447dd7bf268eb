"""Trivial functions for the local benchmarks (workers import this file)."""

import toolkit

app = toolkit.App("bench")


def identity(x):
    return x


@app.function(max_containers=2)
def trivial(x: int) -> int:
    return x


@app.function()
def echo(x: int) -> int:
    return x

"""A scheduled function that reports each run on a Queue, for the serve schedule tests."""

import os
import time

import toolkit

app = toolkit.App("ticker")
ticks = toolkit.Queue.from_name("ticks", create_if_missing=True)


@app.function(schedule=toolkit.Period(seconds=1))
def tick() -> None:
    ticks.put({"at": time.time(), "pid": os.getpid()})

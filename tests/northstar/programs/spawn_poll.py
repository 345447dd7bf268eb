"""Start work now, collect it later by id.

Pattern: ``.spawn`` returns a ``FunctionCall``; its ``object_id`` is all another process needs:
``FunctionCall.from_id(id).get(timeout=0)`` raises ``TimeoutError`` while the work runs, then returns
the result; ``FunctionCall.gather`` waits for several (the class imported from its module path).
The image asks for a Python version, as most programs' images do.
"""

import time

import toolkit as modal
from toolkit.functions import FunctionCall

app = modal.App("northstar-spawn-poll", image=modal.Image.debian_slim(python_version="3.13"))


@app.function()
def slow_square(x: int, delay: float = 0.0) -> int:
    time.sleep(delay)
    return x * x


@app.local_entrypoint()
def main():
    call_id = slow_square.spawn(9, delay=2.0).object_id
    handle = FunctionCall.from_id(call_id)
    try:
        handle.get(timeout=0)
        print("poll: finished too early")
    except TimeoutError:
        print("poll: still running")
    print("result:", handle.get(timeout=60))
    print("gathered:", modal.FunctionCall.gather(*(slow_square.spawn(i) for i in range(4))))

"""A detached multi-stage pipeline: one function, one ``with_options`` variant per stage.

Pattern: ``spawn_map`` fans the inputs into the first stage; each stage ``spawn``s the next; the
last stage's variant mounts a ``Volume`` through ``with_options(volumes=...)`` and writes there; every
stage reports ``current_function_call_id()`` and ``MODAL_TASK_ID`` to a named ``Dict`` that the
entrypoint polls until the inputs are through; a detached call that fails shows its traceback.
"""

import os
import time
import uuid
from pathlib import Path

import toolkit as modal

app = modal.App("northstar-pipeline")
outputs = modal.Volume.from_name("northstar-pipeline-outputs", create_if_missing=True)
tracker = modal.Dict.from_name("northstar-pipeline-tracker", create_if_missing=True)
OUT = "/northstar-pipeline-out"


@app.function()
def stage(run: str, item: int, step: int) -> None:
    tracker[f"{run}/{item}/{step}"] = (modal.current_function_call_id(), os.environ["MODAL_TASK_ID"])
    if step + 1 < len(STAGES):
        STAGES[step + 1].spawn(run, item, step + 1)
        return
    (Path(OUT) / run).mkdir(exist_ok=True)
    (Path(OUT) / run / f"item-{item}.txt").write_text(str(item * item))
    outputs.commit()
    tracker[f"{run}/{item}/done"] = True


STAGES = [stage.with_options(max_containers=2), stage.with_options(volumes={OUT: outputs})]


@app.function()
def audit(run: str) -> None:
    raise ValueError(f"audit of {run} found a broken stage")


@app.local_entrypoint()
def main(items: int = 3):
    run = uuid.uuid4().hex[:8]
    print("run:", run)
    STAGES[0].spawn_map([run] * items, range(items), [0] * items)
    deadline = time.monotonic() + 60
    while not all(tracker.get(f"{run}/{item}/done") for item in range(items)):
        assert time.monotonic() < deadline, "the pipeline did not finish within 60 s"
        time.sleep(0.2)
    reports = [tracker[f"{run}/{item}/{step}"] for item in range(items) for step in range(len(STAGES))]
    print("calls:", len({call for call, _task in reports}), "distinct of", len(reports))
    print("tasks:", sorted({task.split("-")[0] for _call, task in reports}))
    broken = audit.spawn(run)  # detached: its traceback is printed as it fails, .get() or not
    try:
        broken.get(timeout=30)
    except ValueError:
        print("audit: failed")
    outputs.reload()
    print("written:", sorted(entry.path.rsplit("/", 1)[-1] for entry in outputs.listdir(run)))

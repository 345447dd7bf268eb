"""``min_containers`` on a served class with web and non-web methods (docs/serve.md): on the platform the
class's N containers serve all its methods; locally each method is a pool of its own, so each web method's
pool is prestarted with N workers, and a non-web method's pool starts on its first call and then keeps N
(it is not prestarted: nothing in serve calls it until a handler does)."""

from __future__ import annotations

import time
from pathlib import Path

from serve.serving import MARKED_APP, alive, served, wait_for

APP = """
import os
from pathlib import Path

import toolkit

app = toolkit.App("warm-class")
MARKS = Path(os.environ["WARM_MARKS"])
MARK_SUFFIX = ""


async def before_start():
    pass


def answer(name):
    return {"worker": os.getpid(), "work": Mixed().work.remote()}

""" + MARKED_APP + '''

@app.cls(min_containers=1, scaledown_window=1)
class Mixed:
    @toolkit.enter()
    def mark(self):
        (MARKS / f"entered-{os.getpid()}").touch()

    @toolkit.asgi_app()
    def web(self):
        return marked("mixed")

    @toolkit.method()
    def work(self):
        return os.getpid()
'''


def _pids(directory: Path, prefix: str) -> set[int]:
    return {int(p.name.rsplit("-", 1)[1]) for p in directory.glob(f"{prefix}-*")}


def test_each_web_pool_is_prestarted_and_a_method_pool_keeps_its_n_once_called(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    app_file = tmp_path / "mixed.py"
    app_file.write_text(APP)
    with served(app_file, env={"WARM_MARKS": str(marks)}) as server:
        wait_for(lambda: len(_pids(marks, "started-mixed")) == 1, "the web method's prestarted worker")
        web_worker = _pids(marks, "started-mixed").pop()
        time.sleep(1.5)
        assert _pids(marks, "entered") == {web_worker}  # the non-web method's pool is not prestarted
        answer = server.client("warm-class-mixed-web").get("/").json()
        assert answer["worker"] == web_worker
        method_worker = answer["work"]
        assert method_worker != web_worker and _pids(marks, "entered") == {web_worker, method_worker}
        time.sleep(3)  # past scaledown_window (1 s) and a reap: the method's one worker is kept
        assert alive(method_worker)
        assert server.client("warm-class-mixed-web").get("/").json()["work"] == method_worker

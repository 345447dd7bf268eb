"""A script that runs its app itself: ``python script_run.py``, no toolkit command.

Pattern: ``with modal.enable_output(), app.run():`` under ``__main__``, then ``.remote``,
``.map``, a class with ``@enter``/``@exit`` and ``Function.with_options``; the app's image sets a
variable with ``.env``, which the functions must see as they do under ``toolkit run``.
"""

import os

import toolkit as modal

app = modal.App("northstar-script-run", image=modal.Image.debian_slim().env({"STAGE": "script"}))


@app.function()
def stage(x: int) -> str:
    return f"{os.environ.get('STAGE')}-{x}"


@app.cls()
class Model:
    @modal.enter()
    def load(self):
        self.k = 3

    @modal.exit()
    def unload(self):
        print("model unloaded")

    @modal.method()
    def predict(self, x: int) -> int:
        return self.k * x


if __name__ == "__main__":
    with modal.enable_output(), app.run():
        print("stage:", stage.remote(1))
        print("mapped:", list(stage.map([2, 3])))
        print("predict:", Model().predict.remote(5))
        print("with_options:", stage.with_options(timeout=30).remote(4))

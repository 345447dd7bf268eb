"""Classes with parameters, a setup hook and per-call options.

Pattern: ``@app.cls`` with ``modal.parameter`` fields, ``@modal.enter`` that prepares state once and
``@modal.exit`` that releases it when the container stops, ``@modal.method`` called with ``.remote``, ``.map`` and ``.remote_gen``, and
``Cls.with_options(...)`` asking for other resources at call time.
"""

import toolkit as modal

app = modal.App("northstar-classes")


@app.cls(cpu=1, memory=256, timeout=60)
class Counter:
    start: int = modal.parameter(default=0)
    label: str = modal.parameter(default="n")

    @modal.enter()
    def load(self):
        self.base = self.start * 10

    @modal.exit()
    def release(self):
        print(f"released {self.label}{self.start}")

    @modal.method()
    def add(self, x: int) -> str:
        return f"{self.label}={self.base + x}"

    @modal.method()
    def steps(self, n: int):
        for i in range(n):
            yield self.base + i


@app.local_entrypoint()
def main():
    print("default:", Counter().add.remote(1))
    print("with params:", Counter(start=2, label="m").add.remote(3))
    print("mapped:", list(Counter(start=1).add.map([1, 2])))
    print("steps:", list(Counter(start=5).steps.remote_gen(3)))
    Bigger = Counter.with_options(cpu=2, memory=1024)
    print("bigger:", Bigger(start=7).add.remote(0))

"""An app other processes look up by name while ``toolkit serve examples/lookups.py`` runs.

See examples/clients/lookup_client.py: a plain Python script that finds this app through the serve
registry, calls its functions in local workers and reads its endpoint's URL.
"""

import toolkit

app = toolkit.App("lookups")


@app.function()
def square(x: int) -> int:
    return x * x


@app.cls()
class Counter:
    start: int = toolkit.parameter(default=0)

    @toolkit.method()
    def add(self, n: int) -> int:
        return self.start + n


@app.function()
@toolkit.fastapi_endpoint()
def hello(name: str = "world") -> dict:
    return {"hello": name}

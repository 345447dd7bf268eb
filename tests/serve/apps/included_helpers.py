"""Half of an app split across files: tests/serve/apps/including.py includes this one."""

import toolkit

app = toolkit.App("helpers-half")


@app.function()
@toolkit.fastapi_endpoint()
def greet(name: str = "world") -> dict:
    return {"hello": name}

"""Query parameters become typed arguments: GET /?x=42 -> {"square": 1764}; ?x=abc -> 422."""

import toolkit

image = toolkit.Image.debian_slim().pip_install("fastapi[standard]")
app = toolkit.App("web-endpoint", image=image)


@app.function()
@toolkit.fastapi_endpoint()
def square(x: int):
    return {"square": x**2}

"""The simplest web endpoint: GET / returns a JSON string."""

import toolkit

image = toolkit.Image.debian_slim().pip_install("fastapi[standard]")
app = toolkit.App("simple-endpoint", image=image)


@app.function()
@toolkit.fastapi_endpoint()
def hello():
    return "Hello world!"

"""POST bodies: any JSON object into a dict, or a pydantic model with validation (422 when invalid)."""

from fastapi.responses import HTMLResponse
from pydantic import BaseModel

import toolkit

image = toolkit.Image.debian_slim().pip_install("fastapi[standard]", "boto3")
app = toolkit.App("web-demo", image=image)


class Item(BaseModel):
    name: str
    qty: int = 42


@app.function()
@toolkit.fastapi_endpoint(method="POST")
def square(item: dict):
    return {"square": item["x"] ** 2}


@app.function()
@toolkit.fastapi_endpoint(method="POST")
def greet(item: Item):
    return HTMLResponse(f"<html>Hello, {item.name}! ({item.qty})</html>")

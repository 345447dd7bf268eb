"""The app the container tests build: a fastapi endpoint reading an env var and a local file."""

import os

import toolkit

image = (
    toolkit.Image.debian_slim("3.11")
    .env({"GREETING": "hello from the image"})
    .add_local_file("data/answer.txt", "/data/answer.txt")
)
app = toolkit.App("images-demo", image=image)


@app.function()
@toolkit.fastapi_endpoint()
def square(x: int = 3):
    with open("/data/answer.txt") as f:
        answer = f.read().strip()
    return {"square": x * x, "greeting": os.environ["GREETING"], "answer": answer, "version": 1}

"""URLs: get_web_url() from inside, user labels, and custom domains (apex, subdomain, wildcard)."""

import toolkit

image = toolkit.Image.debian_slim().pip_install("fastapi[standard]")
app = toolkit.App("text_to_speech", image=image)


@app.function()
@toolkit.fastapi_endpoint(docs=True)
def show_url() -> str:
    return show_url.get_web_url()


@app.function()
@toolkit.fastapi_endpoint(label="speechify")
def web_endpoint_handler():
    return "speechify"


@app.function()
@toolkit.fastapi_endpoint(custom_domains=["api.example.com", "example.com", "tts.apps.example.com"])
def hello(message: str):
    return {"message": f"hello {message}"}

"""Requests past the budget: 303 to a result URL that waits again; or spawn and poll (202)."""

import time

import toolkit

image = toolkit.Image.debian_slim().pip_install("fastapi[standard]")
app = toolkit.App("long-requests", image=image)


@app.function(timeout=3600)
@toolkit.fastapi_endpoint()
def slow(seconds: float = 5.0):
    time.sleep(seconds)
    return {"slept": seconds}


@app.function(timeout=3600)
def long_job(seconds: float) -> dict:
    time.sleep(seconds)
    return {"done_after": seconds}


@app.function()
@toolkit.fastapi_endpoint(method="POST")
def accept_job(item: dict):
    call = long_job.spawn(float(item.get("seconds", 5)))
    return {"call_id": call.object_id}


@app.function()
@toolkit.fastapi_endpoint()
def result(call_id: str):
    from fastapi.responses import JSONResponse

    call = toolkit.FunctionCall.from_id(call_id)
    try:
        return call.get(timeout=0)
    except TimeoutError:
        return JSONResponse({"status": "pending"}, status_code=202)

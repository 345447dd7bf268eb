"""An HTML endpoint whose script must run in a real browser, and an endpoint with OpenAPI docs."""

from fastapi.responses import HTMLResponse

import toolkit

app = toolkit.App("browser")


@app.function()
@toolkit.fastapi_endpoint()
def page():
    return HTMLResponse(
        "<html><head><title>toolkit page</title></head><body><div id='out'>not run</div>"
        "<script>document.getElementById('out').textContent = 'rendered-' + (6 * 7) + '-' + location.host;</script>"
        "</body></html>"
    )


@app.function()
@toolkit.fastapi_endpoint(docs=True)
def documented(x: int = 1):
    return {"x": x}

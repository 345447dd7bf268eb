"""A WSGI app (Flask, Django, or any WSGI callable); concurrent inputs run on threads."""

import json

import toolkit

app = toolkit.App("wsgi-demo")


@app.function()
@toolkit.concurrent(max_inputs=100)
@toolkit.wsgi_app()
def wsgi_echo():
    def application(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        payload = {"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
                   "query": environ.get("QUERY_STRING", ""), "body": body.decode("utf-8", "replace")}
        data = json.dumps(payload).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    return application

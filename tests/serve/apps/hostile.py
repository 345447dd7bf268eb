"""Endpoints the hostile-input tests aim at (tests/serve/test_hostile_app.py): a Flask WSGI app
that reports the body it read, a slow endpoint that outlives a small --request-timeout, and a
proxy-auth endpoint that reports the headers user code sees."""

import time

from fastapi import Request

import toolkit

app = toolkit.App("hostile")


@app.function()
@toolkit.wsgi_app()
def flask_body():
    from flask import Flask, request

    web = Flask(__name__)

    @web.route("/", methods=["POST", "PUT"])
    def length():
        return {"length": len(request.get_data()), "content_length": request.content_length}

    return web


@app.function()
@toolkit.wsgi_app()
def plain_wsgi():
    def app(environ, start_response):
        # as PEP 3333 asks: read CONTENT_LENGTH bytes, never past it
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(len(body)).encode()]

    return app


@app.function(timeout=600)
@toolkit.wsgi_app()
def slow():
    def app(environ, start_response):  # any path: sleeps ?seconds=, then names the path it got
        seconds = float(environ.get("QUERY_STRING", "").partition("seconds=")[2].split("&")[0] or 0)
        time.sleep(seconds)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    return app


@app.function()
@toolkit.fastapi_endpoint(requires_proxy_auth=True)
def headers_seen(request: Request):
    return sorted(name.lower() for name in request.headers)

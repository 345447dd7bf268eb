"""An app written with the platform's deprecated ``@web_endpoint`` (tests/serve/test_platform_aliases.py)."""

import warnings

import toolkit

app = toolkit.App("aliases")

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # the test checks the warning itself

    @app.function()
    @toolkit.web_endpoint(method="POST", label="old-hello")
    def hello(body: dict) -> dict:
        return {"hello": body["name"]}

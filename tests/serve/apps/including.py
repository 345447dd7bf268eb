"""An app that includes another file's app (App.include): one serve carries both halves."""

import included_helpers

import toolkit

app = toolkit.App("whole").include(included_helpers.app)


@app.function()
@toolkit.fastapi_endpoint()
def own() -> str:
    return "own"

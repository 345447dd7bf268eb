"""A code runner: POST Python source, get back its output, run in a fresh sandbox for each request.

    toolkit serve examples/sandbox_code_runner.py
    curl -X POST --json '{"code": "print(6 * 7)"}' http://<printed url>/

Each request gets a new container with no network, half a CPU, 256 MiB and 20 seconds; the
sandbox is removed when the request is answered, whatever the code did (even ``rm -rf /``).
"""

import toolkit

app = toolkit.App("code-runner", image=toolkit.Image.debian_slim().pip_install("fastapi[standard]"))
sandbox_image = toolkit.Image.debian_slim()  # what the submitted code runs on: plain Python, nothing else
MAX_OUTPUT = 64 * 1024


@app.function(timeout=60)
@toolkit.fastapi_endpoint(method="POST")
def run(body: dict) -> dict:
    code = body.get("code")
    if not isinstance(code, str):
        return {"error": 'POST a JSON object like {"code": "print(1)"}'}
    sb = toolkit.Sandbox.create("python3", "-c", code, app=app, image=sandbox_image, timeout=20,
                                block_network=True, cpu=0.5, memory=256)
    try:
        stdout, stderr = sb.stdout.read(), sb.stderr.read()
        sb.wait(raise_on_termination=False)
        return {"stdout": stdout[:MAX_OUTPUT], "stderr": stderr[:MAX_OUTPUT], "returncode": sb.returncode,
                "sandbox": sb.object_id}
    finally:
        sb.terminate()

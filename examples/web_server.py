"""Any server that listens on a port: here Python's own http.server, bound to 0.0.0.0."""

import subprocess
import sys

import toolkit

app = toolkit.App("file-server")


@app.function()
@toolkit.concurrent(max_inputs=100)
@toolkit.web_server(8000, startup_timeout=10)
def my_file_server():
    subprocess.Popen([sys.executable, "-m", "http.server", "-d", "/", "8000", "--bind", "0.0.0.0"])

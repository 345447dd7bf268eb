"""Serve many configurations: each ?root=... gets its own pool of workers."""

import subprocess
import sys

import toolkit

app = toolkit.App("param-server")


@app.cls()
@toolkit.concurrent(max_inputs=100)
class Server:
    root: str = toolkit.parameter(default=".")

    @toolkit.web_server(8000, startup_timeout=10)
    def files(self):
        subprocess.Popen([sys.executable, "-m", "http.server", "-d", self.root, "8000", "--bind", "0.0.0.0"])

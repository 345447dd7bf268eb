"""``python -m runtime.entrypoints.server_host PARAMS``: one ``@web_server`` method's instance.

The process `runtime.adapters.server_host.HostedServer` starts for each parameter set: it builds
the object (parameters, ``@enter``), calls the method, waits for the port and reports "ready" or
the error on the pipe named by ``TOOLKIT_HOST_REPORT_FD``, then lives until stopped.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from runtime.adapters.server_host import REPORT_FD_ENV, decode_params
from runtime.adapters.web_server import build_web_server


def _report(message: dict[str, Any]) -> None:
    fd = int(os.environ[REPORT_FD_ENV])
    os.write(fd, (json.dumps(message) + "\n").encode())
    os.close(fd)


def main(argv: list[str]) -> int:
    from runtime.deployment import load_deployment
    from runtime.userapp import MethodFunction, load_function

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the @exit hooks below on a stop
    params = decode_params(argv[1])
    deployment = load_deployment()
    spec = deployment.web_spec
    try:
        function = load_function(deployment)
        assert isinstance(function, MethodFunction), "the host serves class methods only"
        method = function.method
        obj = method.instantiate(params)
        build_web_server(method.method_of(obj), spec)  # starts the user's server, waits for its port
    except Exception as exc:
        _report({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    _report({"ready": True})
    try:
        sys.stdin.buffer.read()  # until the environment's server closes the pipe or goes away
    finally:
        method.run_exit_hooks(obj)
    # the environment went away without stopping us: take the user's server down too
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(os.getpgid(0), signal.SIGTERM)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

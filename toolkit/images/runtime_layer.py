"""What toolkit itself puts into every image: its Python dependencies, the ``toolkit`` and
``runtime`` source trees, and the entrypoint that picks Lambda or HTTP mode.

Only ``.py`` sources are copied, and from ``toolkit`` only what a user's module needs at
run time (the SDK's top-level modules and its local runner); the CLI, the image builder and
deploy code stay out.  An allowlist, so that a new build-time subpackage never leaks in.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

# The image puts the app's code and manifest under Lambda's LAMBDA_TASK_ROOT (runtime.environment).
from runtime.environment import MANIFEST_PATH as MANIFEST_PATH
from runtime.environment import TASK_ROOT as TASK_ROOT
from toolkit.images.context import BuildContext

RUNTIME_DIR = "/opt/toolkit"
ENTRYPOINT = f"{RUNTIME_DIR}/toolkit-entrypoint"
HTTP_PORT = 8080
CONTEXT_DIR = "toolkit-runtime"
_SOURCE_ROOT = Path(__file__).resolve().parents[2]
_RUNTIME_PACKAGES = ("toolkit", "toolkit/local", "toolkit/sandboxes", "runtime", "runtime/*")  # directories copied

# The platform's containers carry its client's own dependencies, and some programs import them at top
# level without installing them.  Of those that toolkit's own install also has (so the program's local
# import works too), rich is the one toolkit's runtime does not already bring (click, certifi and
# typing_extensions come with uvicorn, httpx and fastapi): it comes along, unpinned so an image's own
# pin wins (about 7 MB with markdown-it-py, mdurl and pygments).  The rest (aiohttp, protobuf, grpclib,
# toml, typer, watchfiles, synchronicity) an image that imports them installs (docs/images.md).
PLATFORM_CLIENT_PACKAGES = ("rich",)

# What runtime/ imports inside the container, and the platform client's packages.  Lower bounds,
# not pins: a user who pins fastapi keeps their version (pip leaves a satisfied requirement alone).
REQUIREMENTS = (
    "a2wsgi>=1.10",           # wsgi_app adapter
    "boto3>=1.34",            # call store (DynamoDB), payloads (S3), secrets, Step Functions
    "cloudpickle>=2.2",       # call arguments and results
    "fastapi>=0.110",         # fastapi_endpoint adapter
    "httpx>=0.27",            # web_server adapter's proxy
    "mangum>=0.17",           # Lambda events -> ASGI
    'tomli>=2; python_version < "3.11"',  # toolkit.config on old Pythons
    "uvicorn>=0.29",          # HTTP mode (ECS, GPU EC2, local runs)
    "websockets>=13",         # uvicorn's WebSocket protocol, and the web_server WebSocket proxy's client
    *PLATFORM_CLIENT_PACKAGES,
)

# Lambda sets AWS_LAMBDA_RUNTIME_API; anything else (ECS, GPU EC2, podman run) gets HTTP.
# TOOLKIT_MODE forces a mode.  In Lambda mode an argument is the handler (Lambda's
# ImageConfig.Command); in HTTP mode arguments replace the server (a worker, a shell).
# Lambda mode runs toolkit's own Runtime API loop (runtime/lambda_loop.py), not awslambdaric:
# it streams Function URL responses and starts no slower (bench/bench_runtime.py); any
# ``module.function`` handler works.
ENTRYPOINT_SCRIPT = f"""#!/bin/sh
set -e
mode="${{TOOLKIT_MODE:-}}"
if [ -z "$mode" ]; then
  if [ -n "${{AWS_LAMBDA_RUNTIME_API:-}}" ]; then mode=lambda; else mode=http; fi
fi
if [ "$mode" = lambda ]; then
  exec python3 -m runtime.lambda_loop "${{1:-runtime.lambda_handler.handler}}"
fi
if [ "$#" -gt 0 ]; then exec "$@"; fi
export PORT="${{PORT:-{HTTP_PORT}}}"
exec python3 -m runtime.server
"""


def runtime_sources() -> list[tuple[str, Path]]:
    """(path inside the context, file) for every runtime source file, sorted."""
    found = []
    for package in ("toolkit", "runtime"):
        for path in sorted((_SOURCE_ROOT / package).rglob("*.py")):
            relative = path.relative_to(_SOURCE_ROOT).as_posix()
            if any(fnmatch.fnmatchcase(relative.rsplit("/", 1)[0], d) for d in _RUNTIME_PACKAGES):
                found.append((f"{CONTEXT_DIR}/{relative}", path))
    return found


def add_runtime(context: BuildContext) -> None:
    for dest, path in runtime_sources():
        context.add_file(dest, path, what="toolkit runtime")
    context.add_bytes(f"{CONTEXT_DIR}/toolkit-entrypoint", ENTRYPOINT_SCRIPT.encode(), executable=True)

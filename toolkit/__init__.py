"""toolkit: serverless functions and web endpoints, run locally or in your own AWS account.

Importing this package is cheap on purpose: it loads no AWS, Pulumi or web-server code.
"""

import importlib
from types import ModuleType

from toolkit import billing, experimental, types
from toolkit.app import App
from toolkit.calls import FunctionCall
from toolkit.cloud_bucket_mount import CloudBucketMount
from toolkit.cls import Cls, Obj, parameter
from toolkit.context import current_function_call_id, current_input_id, is_local
from toolkit.dicts import Dict
from toolkit.ephemeral import enable_output
from toolkit.exception import (
    CallLostError,
    Error,
    FunctionTimeoutError,
    InvalidError,
    NotFoundError,
    SerializationError,
    WorkerCrashedError,
)
from toolkit.file_pattern_matcher import FilePatternMatcher
from toolkit.forwarding import forward
from toolkit.functions import Function
from toolkit.image import Image
from toolkit.image_environment import build_local_environment as _build_env  # noqa: F401 - installs Image.build's builder
from toolkit.lookup import find_app as _find_app  # noqa: F401 - importing it installs the finder (from_name, lookup)
from toolkit.network_file_system import NetworkFileSystem
from toolkit.partial import (
    asgi_app,
    batched,
    concurrent,
    enter,
    exit,
    fastapi_endpoint,
    method,
    web_server,
    wsgi_app,
)
from toolkit.partial_function import web_endpoint
from toolkit.pending import Server
from toolkit.platform_only import (
    Client,
    Cluster,
    Environment,
    SchedulerPlacement,
    Workspace,
    clustered,
    interact,
    sessioned,
)
from toolkit.proxy import Proxy
from toolkit.queues import Queue
from toolkit.sandbox import Probe, Sandbox, SandboxSnapshot, Tunnel
from toolkit.schedule import Cron, Period
from toolkit.secret import Secret
from toolkit.spec import Retries
from toolkit.version import __version__ as __version__
from toolkit.volume import Volume

# The hosted client's submodules that its users reach as attributes after a bare import (an annotation
# like ``p: modal.container_process.ContainerProcess`` runs at import time): loaded on first access
# (PEP 562), so importing the package stays cheap.
_SUBMODULES = frozenset({"client", "cluster", "container_process", "dict", "environments", "io_streams", "output",
                         "queue", "retries", "scheduler_placement", "server", "stream_type", "workspace"})


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "App",
    "CallLostError",
    "Client",
    "CloudBucketMount",
    "Cls",
    "Cluster",
    "Cron",
    "Dict",
    "Environment",
    "Error",
    "FilePatternMatcher",
    "Function",
    "FunctionCall",
    "FunctionTimeoutError",
    "Image",
    "InvalidError",
    "NetworkFileSystem",
    "NotFoundError",
    "Obj",
    "Period",
    "Probe",
    "Proxy",
    "Queue",
    "Retries",
    "Sandbox",
    "SandboxSnapshot",
    "SchedulerPlacement",
    "Secret",
    "SerializationError",
    "Server",
    "Tunnel",
    "Volume",
    "WorkerCrashedError",
    "Workspace",
    "__version__",
    "asgi_app",
    "batched",
    "billing",
    "clustered",
    "concurrent",
    "current_function_call_id",
    "current_input_id",
    "enable_output",
    "enter",
    "exit",
    "experimental",
    "fastapi_endpoint",
    "forward",
    "interact",
    "is_local",
    "method",
    "parameter",
    "sessioned",
    "types",
    "web_endpoint",
    "web_server",
    "wsgi_app",
]

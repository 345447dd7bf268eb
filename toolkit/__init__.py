"""toolkit: serverless functions and web endpoints, run locally or in your own AWS account.

Importing this package is cheap on purpose: it loads no AWS, Pulumi or web-server code.
"""

from toolkit.app import App
from toolkit.calls import FunctionCall
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
from toolkit.functions import Function
from toolkit.image import Image
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
from toolkit.queues import Queue
from toolkit.sandbox import Probe, Sandbox, Tunnel
from toolkit.schedule import Cron, Period
from toolkit.secret import Secret
from toolkit.spec import Retries
from toolkit.volume import Volume

__version__ = "0.1.0"

__all__ = [
    "App",
    "CallLostError",
    "Cls",
    "Cron",
    "Dict",
    "Error",
    "Function",
    "FunctionCall",
    "FunctionTimeoutError",
    "Image",
    "InvalidError",
    "NotFoundError",
    "Obj",
    "Period",
    "Probe",
    "Queue",
    "Retries",
    "Sandbox",
    "Secret",
    "SerializationError",
    "Tunnel",
    "Volume",
    "WorkerCrashedError",
    "__version__",
    "asgi_app",
    "batched",
    "concurrent",
    "current_function_call_id",
    "current_input_id",
    "enable_output",
    "enter",
    "exit",
    "fastapi_endpoint",
    "is_local",
    "method",
    "parameter",
    "web_server",
    "wsgi_app",
]

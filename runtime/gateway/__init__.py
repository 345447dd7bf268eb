"""Gateway behaviour shared by every front end (Lambda, the ECS server, ``toolkit serve``).

* `auth`      -- proxy-auth tokens (``Toolkit-Key`` / ``Toolkit-Secret``), constant-time checks.
* `headers`   -- 400 for header names and values HTTP does not allow (a Lambda event's are unchecked).
* `limits`    -- 413 body limits, 429 token-bucket rate limiting.
* `budget`    -- inline vs. detached calls, the 303 result URL, waiting on the call store.
* `records`   -- requests/responses as plain data so a worker can replay them.
* `call_paths`-- where detached calls run (`CallPath`; `ThreadCalls` locally).
* `middleware`-- `Gateway`, the ASGI middleware that sequences the above.
"""

from runtime.gateway.auth import StaticTokens, TokenVerifier, check_proxy_auth, hash_secret
from runtime.gateway.budget import (
    DEFAULT_BUDGET_S,
    HTTP_API_BUDGET_S,
    RESULT_QUERY_PARAM,
    fits_inline,
    result_call_id,
    result_location,
)
from runtime.gateway.call_paths import CallPath, ThreadCalls, asgi_runner
from runtime.gateway.limits import LAMBDA_MAX_BODY_BYTES, Rejection, TokenBucket, check_body_size
from runtime.gateway.middleware import Gateway, GatewayPolicy
from runtime.gateway.records import HTTPRequestRecord, HTTPResponseRecord, run_asgi

__all__ = [
    "DEFAULT_BUDGET_S",
    "HTTP_API_BUDGET_S",
    "LAMBDA_MAX_BODY_BYTES",
    "RESULT_QUERY_PARAM",
    "CallPath",
    "Gateway",
    "GatewayPolicy",
    "HTTPRequestRecord",
    "HTTPResponseRecord",
    "Rejection",
    "StaticTokens",
    "ThreadCalls",
    "TokenBucket",
    "TokenVerifier",
    "asgi_runner",
    "check_body_size",
    "check_proxy_auth",
    "fits_inline",
    "hash_secret",
    "result_call_id",
    "result_location",
    "run_asgi",
]

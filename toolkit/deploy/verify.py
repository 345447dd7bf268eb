"""Verification after deploy: does what was deployed answer, the way a careful engineer checks by hand?

``pulumi up`` succeeding means AWS accepted the resources, not that they work: a listener
rule can route nothing to the service (the ALB answers its own 404), an image can crash at
import, a certificate can still be pending.  So a deploy ends with two kinds of check:

* **web endpoints**: ``GET`` each printed URL (and custom domain).  Any answer *from the app*
  passes, whatever its status below 500 (a POST-only endpoint's 405, a 422 for a missing
  query parameter, a 401 from proxy auth all come from the function).  Answers the front door
  makes itself are recognised by their signatures (API Gateway's ``{"message":"Not Found"}``
  and ``apigw-requestid``, ALB's ``Server: awselb``, CloudFront's ``X-Cache: Error from
  cloudfront``, a Function URL's ``x-amzn-ErrorType``) and explained.  A Lambda endpoint's
  streaming Function URL is checked too.  DNS, TLS and connection failures are retried until a
  deadline (new records and certificates take a minute or two), then explained.
* **call paths**: a Lambda function is invoked with a health event (``{"toolkit_health": ...}``):
  the runtime initialises (image pull, the user's imports, secrets) and answers 400 "unknown
  event" without running user code; a crash or "could not start" is reported with its message.
  An ECS or GPU function is *not* invoked (that would start a task, for GPU an instance): its
  worker state machine and task definition are checked to exist and be active, and the row
  says it was not invoked.

Every check becomes a row: endpoint | URL | status | latency | diagnosis.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from toolkit.deploy.outputs import DeployedApp, DeployedEndpoint

__all__ = ["HEALTH_EVENT", "Check", "Outcome", "check_call_path", "check_url", "diagnose_response", "verify"]

HEALTH_EVENT = {"toolkit_health": "toolkit deploy verification"}  # classified UNKNOWN by runtime.events.sources
REQUEST_TIMEOUT_S = 10.0
RETRY_PAUSE_S = 3.0


class Outcome(str, enum.Enum):
    """How a check ended.  ``OK``: the function answered.  ``FAILED``: it did not, and the
    diagnosis says why.  ``NOT_INVOKED``: its resources exist but nothing was run (ECS/GPU)."""

    OK = "ok"
    FAILED = "failed"
    NOT_INVOKED = "not invoked"


@dataclass(frozen=True)
class Check:
    name: str  # the function tag, "<tag> (call)" for call paths
    target: str  # the URL, or the ARN invoked
    status: str  # the HTTP status, "invoked", or the failure's kind
    latency_ms: float | None
    outcome: Outcome
    diagnosis: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILED

    def row(self) -> tuple[str, str, str, str, str]:
        latency = f"{self.latency_ms:.0f} ms" if self.latency_ms is not None else "-"
        return self.name, self.target, self.status, latency, self.diagnosis or self.outcome.value

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "target": self.target, "status": self.status, "latency_ms": self.latency_ms,
                "outcome": self.outcome.value, "diagnosis": self.diagnosis}


# -- web endpoints -------------------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def diagnose_response(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    """None when the answer came from the app (below 500); else what went wrong and the fix."""
    text = body[:2000].decode("utf-8", "replace")
    if "awselb" in _header(headers, "server").lower():
        return _alb(status)
    if "error from cloudfront" in _header(headers, "x-cache").lower():
        return _cloudfront(status)
    if _header(headers, "apigw-requestid") and _is_apigw_message(text):
        return _api_gateway(status, text)
    if _header(headers, "x-amzn-errortype"):  # a Lambda Function URL's own refusal
        return _function_url(status, _header(headers, "x-amzn-errortype"))
    if status >= 500:
        return (f"the function answered {status}: it raised or its runtime failed; read its logs with "
                "`toolkit logs app.py::<function>`")
    return None


def _is_apigw_message(text: str) -> bool:
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and set(data) == {"message"}


def _alb(status: int) -> str:
    if status == 404:
        return ("the load balancer answered 404 itself: no listener rule routes this URL to the service "
                "(a host rule without a domain?); redeploy, or use the URL `toolkit url` prints")
    if status == 503:
        return ("the load balancer has no healthy target: the service's tasks are not running or fail "
                "their health check; see `toolkit logs` and the ECS service's events")
    if status == 504:
        return "the target did not answer in time (the task is starting, or the app hangs)"
    return f"the load balancer answered {status}: the target closed the connection or answered malformed HTTP"


def _cloudfront(status: int) -> str:
    if status in (403, 421):
        return ("CloudFront refused the request: the distribution does not serve this host yet (alternate "
                "domain or certificate still deploying; wait a few minutes and run `toolkit deploy` again)")
    if status == 502:
        return "CloudFront cannot reach the origin (TLS to the origin, or the origin is down)"
    if status == 504:
        return "CloudFront timed out waiting for the origin (cold start past the origin read timeout?)"
    return f"CloudFront answered {status} itself, not the function"


def _api_gateway(status: int, text: str) -> str:
    if status == 404:
        return "API Gateway has no route for this URL (the route or stage is missing): redeploy"
    if status in (500, 502):
        return ("API Gateway could not get an answer from the Lambda function (it crashed, timed out, or "
                f"its permission to invoke is missing): {text.strip()}; see `toolkit logs`")
    if status == 503:
        return "API Gateway: the function is throttled or unavailable (concurrency quota? see `toolkit doctor`)"
    if status == 429:
        return "API Gateway throttled the request (rate limit)"
    return f"API Gateway answered {status} itself: {text.strip()}"


def _function_url(status: int, error_type: str) -> str:
    if status == 403:
        return (f"the Function URL refused the request ({error_type}): its auth type or its "
                "lambda:InvokeFunctionUrl permission is wrong; redeploy")
    if status == 502:
        return f"the Function URL got no valid response ({error_type}): the function crashed; see `toolkit logs`"
    if status == 429:
        return f"the Function URL throttled the request ({error_type}): concurrency quota? see `toolkit doctor`"
    return f"the Function URL answered {status} itself ({error_type})"


_RETRYABLE = ("does not resolve", "cannot connect", "timed out", "no healthy target")


def _request(url: str, timeout: float) -> tuple[Check | None, tuple[int, dict[str, str], bytes, float] | None]:
    import httpx

    started = time.monotonic()
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.ConnectError as exc:
        kind = "does not resolve" if "name or service" in str(exc).lower() or "nodename" in str(exc).lower() else \
            "cannot connect"
        why = (f"the hostname {kind} yet (new DNS records take minutes; a custom domain needs its Route53 "
               "zone delegated)") if kind == "does not resolve" else f"cannot connect ({exc})"
        return Check("", url, kind, None, Outcome.FAILED, why), None
    except httpx.TimeoutException:
        return Check("", url, "timed out", None, Outcome.FAILED, f"no answer within {timeout:.0f} s"), None
    except httpx.HTTPError as exc:  # TLS and protocol errors
        return Check("", url, "error", None, Outcome.FAILED,
                     f"{type(exc).__name__}: {exc} (a certificate still pending validation?)"), None
    elapsed = (time.monotonic() - started) * 1000
    return None, (response.status_code, dict(response.headers), response.content, elapsed)


def check_url(tag: str, url: str, *, deadline: float, timeout: float = REQUEST_TIMEOUT_S,
              sleep: Callable[[float], None] = time.sleep) -> Check:
    """GET ``url``; transient failures (DNS, connect, 503 from a warming ALB) retried until ``deadline``
    (a ``time.monotonic()`` value)."""
    while True:
        failure, answer = _request(url, timeout)
        if answer is not None:
            status, headers, body, elapsed = answer
            why = diagnose_response(status, headers, body)
            check = Check(tag, url, str(status), elapsed, Outcome.FAILED if why else Outcome.OK, why or "")
        else:
            assert failure is not None
            check = Check(tag, failure.target, failure.status, None, Outcome.FAILED, failure.diagnosis)
        if not check.failed or not any(k in check.diagnosis + check.status for k in _RETRYABLE) or \
                time.monotonic() + RETRY_PAUSE_S > deadline:
            return check
        sleep(RETRY_PAUSE_S)


def _endpoint_urls(endpoint: DeployedEndpoint) -> Iterable[tuple[str, str]]:
    """(row name, URL): the endpoint's URL, its custom domains, its streaming Function URL."""
    yield endpoint.tag, endpoint.url
    yield from ((f"{endpoint.tag} (domain)", url) for url in endpoint.custom_urls)
    if endpoint.stream_url:
        yield f"{endpoint.tag} (stream)", endpoint.stream_url


# -- call paths ----------------------------------------------------------------------------------


def check_call_path(tag: str, outputs: Mapping[str, Any], clients: Callable[[str], Any]) -> Check:
    backend = str(outputs.get("backend") or "")
    target = outputs.get("alias_arn") or outputs.get("function_arn")
    if backend != "lambda":
        return _ecs_resources(f"{tag} (call)", backend, outputs, clients)
    if not target:
        return Check(f"{tag} (call)", "-", "no ARN", None, Outcome.FAILED,
                     "the stack has no function_arn output for it (deployed by an older toolkit?): redeploy")
    return _invoke(f"{tag} (call)", str(target), clients("lambda"))


def _invoke(name: str, arn: str, client: Any) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    started = time.monotonic()
    try:
        answer = client.invoke(FunctionName=arn, Payload=json.dumps(HEALTH_EVENT).encode())
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        return Check(name, arn, code or "error", None, Outcome.FAILED, _invoke_error(code, str(exc)))
    except BotoCoreError as exc:
        return Check(name, arn, "error", None, Outcome.FAILED, f"cannot reach Lambda: {exc}")
    elapsed = (time.monotonic() - started) * 1000
    payload = answer["Payload"].read()
    if answer.get("FunctionError"):
        return Check(name, arn, "crashed", elapsed, Outcome.FAILED,
                     f"the runtime crashed on a health invocation: {_error_message(payload)}; see `toolkit logs`")
    return _health_reply(name, arn, elapsed, payload)


def _invoke_error(code: str, text: str) -> str:
    if code == "ResourceNotFoundException":
        return "the function does not exist (deleted outside the deploy?): redeploy"
    if code in ("ResourceConflictException", "ResourceNotReadyException"):
        return f"the function is not active yet ({text}); it may still be pulling its image: run the check again"
    if code in ("AccessDeniedException", "AccessDenied"):
        return "the deploying user may not lambda:InvokeFunction (see docs/deploy.md, IAM permissions)"
    return text


def _error_message(payload: bytes) -> str:
    try:
        data = json.loads(payload)
    except ValueError:
        return payload[:300].decode("utf-8", "replace")
    return str(data.get("errorMessage") or data)[:300] if isinstance(data, dict) else str(data)[:300]


def _health_reply(name: str, arn: str, elapsed: float, payload: bytes) -> Check:
    try:
        reply = json.loads(payload)
    except ValueError:
        reply = None
    status = reply.get("statusCode") if isinstance(reply, dict) else None
    if not isinstance(status, int):
        return Check(name, arn, "unexpected", elapsed, Outcome.FAILED,
                     f"the function answered something that is not the toolkit runtime's reply: {payload[:200]!r} "
                     "(is the image built by toolkit?)")
    if status >= 500:
        return Check(name, arn, str(status), elapsed, Outcome.FAILED, str(reply.get("body") or "")[:300])
    return Check(name, arn, "initialised", elapsed, Outcome.OK)


def _ecs_resources(name: str, backend: str, outputs: Mapping[str, Any], clients: Callable[[str], Any]) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    machine, task = outputs.get("state_machine_arn"), outputs.get("task_definition_arn")
    target = str(task or machine or "-")
    if not machine and not task:
        return Check(name, target, "-", None, Outcome.NOT_INVOKED, "no state machine or task definition in the outputs")
    try:
        if machine:
            status = clients("stepfunctions").describe_state_machine(stateMachineArn=machine).get("status")
            if status not in (None, "ACTIVE"):
                return Check(name, str(machine), str(status), None, Outcome.FAILED, "the worker state machine is not active")
        if task:
            definition = clients("ecs").describe_task_definition(taskDefinition=task)["taskDefinition"]
            if definition.get("status") != "ACTIVE":
                return Check(name, str(task), str(definition.get("status")), None, Outcome.FAILED,
                             "the task definition is not active: redeploy")
    except (ClientError, BotoCoreError) as exc:
        return Check(name, target, "missing", None, Outcome.FAILED, f"{exc}")
    return Check(name, target, "exists", None, Outcome.NOT_INVOKED,
                 f"{backend or 'ecs'}: state machine and task definition active; not invoked (a call would start "
                 "a task" + (" on a GPU instance)" if backend == "gpu" else ")"))


# -- everything ----------------------------------------------------------------------------------


def verify(deployed: DeployedApp, clients: Callable[[str], Any], *, timeout_s: float = 120.0,
           sleep: Callable[[float], None] = time.sleep) -> list[Check]:
    """One row per endpoint URL, then one per function's call path."""
    deadline = time.monotonic() + timeout_s
    checks = [check_url(name, url, deadline=deadline, sleep=sleep) for e in deployed.endpoints
              for name, url in _endpoint_urls(e)]
    for tag in deployed.functions:
        checks.append(check_call_path(tag, deployed.function_outputs.get(tag, {}), clients))
    return checks

"""Lambda web endpoints stream through a Function URL (RESPONSE_STREAM): the URL, its grants, and
CloudFront reaching it for custom domains.  Under the Pulumi mock runtime, asserting resource args."""

from __future__ import annotations

from typing import Any

import pytest
from infra_support import Run, load_fixture, run_program, settings_for

from infra.components.lambda_function import ALIAS_NAME
from infra.plan import CLOUDFRONT_BUDGET_MARGIN, plan_app

FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
PERMISSION = "aws:lambda/permission:Permission"
LAMBDA = "aws:lambda/function:Function"
LAMBDA_WEB = ("api", "hello", "legacy")  # the web fixture's Lambda endpoints; "server" is a web_server on ECS


@pytest.fixture(scope="module")
def slow_origin_run() -> Run:
    """The web fixture with CloudFront's read timeout raised to 180 s (after a quota increase)."""
    return run_program(settings_for(load_fixture("web"), base_domain="toolkit.example.com", hosted_zone="example.com",
                                    origin_read_timeout=180))


def _env(run: Run, tag: str) -> dict[str, str]:
    fn = run.mocks.one(LAMBDA, f"-{tag}-lambda")
    env: dict[str, str] = fn.inputs["environment"]["variables"]
    return env


def test_every_lambda_web_endpoint_gets_a_streaming_function_url_on_its_alias(web_run: Run) -> None:
    urls = web_run.mocks.of_type(FUNCTION_URL)
    assert sorted(u.name for u in urls) == [f"web-demo-test-{t}-stream-url" for t in LAMBDA_WEB]
    for url in urls:
        assert url.inputs["invokeMode"] == "RESPONSE_STREAM"
        assert url.inputs["authorizationType"] == "NONE"  # proxy auth is the runtime gateway's
        assert url.inputs["qualifier"] == ALIAS_NAME
        tag = url.name.removeprefix("web-demo-test-").removesuffix("-stream-url")
        assert url.inputs["functionName"] == f"web-demo-test-{tag}"
    assert "cors" not in web_run.mocks.one(FUNCTION_URL, "hello").inputs  # the app answers CORS itself


def test_plain_functions_and_ecs_endpoints_get_no_function_url(web_run: Run, plain_run: Run, gpu_run: Run) -> None:
    assert not any("server" in u.name for u in web_run.mocks.of_type(FUNCTION_URL))
    assert plain_run.mocks.of_type(FUNCTION_URL) == [] and gpu_run.mocks.of_type(FUNCTION_URL) == []


def test_the_public_grant_is_the_alias_through_its_url_only(web_run: Run) -> None:
    public = [p for p in web_run.mocks.of_type(PERMISSION) if p.inputs["principal"] == "*"]
    assert len(public) == 2 * len(LAMBDA_WEB)
    for permission in public:
        inputs: dict[str, Any] = permission.inputs
        assert inputs["qualifier"] == ALIAS_NAME
        if inputs["action"] == "lambda:InvokeFunctionUrl":
            assert inputs["functionUrlAuthType"] == "NONE"
        else:  # anyone may invoke, but only by calling the URL, never the Invoke API
            assert inputs["action"] == "lambda:InvokeFunction" and inputs["invokedViaFunctionUrl"] is True


def test_custom_domains_reach_the_function_url_through_cloudfront(web_run: Run) -> None:
    stream_url = web_run.outputs["functions"]["hello"]["stream_url"]
    assert stream_url.startswith("https://") and stream_url.endswith(".lambda-url.us-east-1.on.aws/")
    origin = web_run.mocks.one("aws:cloudfront/distribution:Distribution", "hello").inputs["origins"][0]
    assert origin["domainName"] == stream_url.removeprefix("https://").rstrip("/")
    assert origin["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert origin["customOriginConfig"]["originReadTimeout"] == 60


def test_workspace_urls_stay_on_the_http_api(web_run: Run) -> None:
    """The HTTP API keeps the workspace host and its throttling (429); the Function URL is extra."""
    assert web_run.outputs["endpoints"]["hello"] == "https://default--web-demo-hello.toolkit.example.com"
    for tag in LAMBDA_WEB:
        assert web_run.outputs["functions"][tag]["stream_url"].endswith(".on.aws/")
    assert "stream_url" not in web_run.outputs["functions"]["server"]


def test_the_stream_budget_leaves_room_under_cloudfronts_read_timeout(web_run: Run, slow_origin_run: Run) -> None:
    assert _env(web_run, "hello")["TOOLKIT_STREAM_BUDGET_S"] == str(60 - CLOUDFRONT_BUDGET_MARGIN)
    assert _env(slow_origin_run, "hello")["TOOLKIT_STREAM_BUDGET_S"] == str(180 - CLOUDFRONT_BUDGET_MARGIN)
    origin = slow_origin_run.mocks.one("aws:cloudfront/distribution:Distribution", "hello").inputs["origins"][0]
    assert origin["customOriginConfig"]["originReadTimeout"] == 180
    # no CloudFront in front: the runtime's own default (150 s) applies
    assert "TOOLKIT_STREAM_BUDGET_S" not in _env(web_run, "api")


def test_the_plan_says_which_functions_stream() -> None:
    plan = plan_app(settings_for(load_fixture("web")))
    by_tag = {f.tag: f for f in plan.functions}
    assert {t for t, f in by_tag.items() if f.has_function_url} == set(LAMBDA_WEB)
    assert by_tag["hello"].stream_budget(60) == 55 and by_tag["api"].stream_budget(60) is None
    assert by_tag["server"].stream_budget(60) is None and by_tag["hello"].stream_budget(3) == 1

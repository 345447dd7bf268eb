"""API Gateway HTTP API front door for a Lambda-backed web endpoint.

One HTTP API per endpoint: an HTTP API cannot route on the Host header, and a web endpoint
owns every path under its host, so each endpoint gets its own API whose ``$default`` route
sends every method and path to the function. Its workspace host is a regional custom domain
(wildcard certificate of the base domain) mapped onto the API. Stage throttling is the rate
limit: 200 req/s steady, a 1000-request (5 s) burst, then API Gateway answers 429.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import child
from infra.components.domains import alias_records
from infra.components.lambda_function import alias_permission

__all__ = ["INTEGRATION_TIMEOUT_MS", "HttpApi", "HttpApiArgs", "HttpRoute", "HttpRouteArgs"]

INTEGRATION_TIMEOUT_MS = 30_000  # HTTP API's hard limit; the runtime answers 303 before it


@dataclass
class HttpApiArgs:
    api_name: str
    rate_limit: float
    burst_limit: int
    domain: str | None = None  # <host>.<baseDomain>
    certificate_arn: pulumi.Input[str] | None = None
    zone_id: pulumi.Input[str] | None = None


class HttpApi(pulumi.ComponentResource):
    api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage
    url: pulumi.Output[str]

    def __init__(self, name: str, args: HttpApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:http_api:HttpApi", name, None, opts)
        self.api = aws.apigatewayv2.Api(
            f"{name}-api",
            name=args.api_name,
            protocol_type="HTTP",
            # With a custom domain, the execute-api URL would bypass it: switch it off.
            disable_execute_api_endpoint=args.domain is not None,
            opts=child(self),
        )
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings={
                "throttling_rate_limit": args.rate_limit,
                "throttling_burst_limit": args.burst_limit,
            },
            opts=child(self),
        )
        self.url = pulumi.Output.from_input(f"https://{args.domain}") if args.domain else self.api.api_endpoint
        if args.domain:
            self._custom_domain(name, args)
        self.register_outputs({"api_endpoint": self.api.api_endpoint, "url": self.url})

    def _custom_domain(self, name: str, args: HttpApiArgs) -> None:
        assert args.domain and args.certificate_arn is not None and args.zone_id is not None
        domain = aws.apigatewayv2.DomainName(
            f"{name}-domain",
            domain_name=args.domain,
            domain_name_configuration={
                "certificate_arn": args.certificate_arn,
                "endpoint_type": "REGIONAL",
                "security_policy": "TLS_1_2",
            },
            opts=child(self),
        )
        aws.apigatewayv2.ApiMapping(
            f"{name}-mapping", api_id=self.api.id, domain_name=domain.id, stage=self.stage.id, opts=child(self)
        )
        config = domain.domain_name_configuration
        alias_records(self, name, args.domain, args.zone_id, config.target_domain_name, config.hosted_zone_id, ipv6=False)


@dataclass
class HttpRouteArgs:
    api: HttpApi
    function_name: pulumi.Input[str]
    alias_name: pulumi.Input[str]
    alias_arn: pulumi.Input[str]


class HttpRoute(pulumi.ComponentResource):
    """Every method and path of the API to the function's alias (Lambda proxy, payload 2.0)."""

    def __init__(self, name: str, args: HttpRouteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:http_api:HttpRoute", name, None, opts)
        api = args.api.api
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_uri=args.alias_arn,
            integration_method="POST",
            payload_format_version="2.0",
            timeout_milliseconds=INTEGRATION_TIMEOUT_MS,
            opts=child(self),
        )
        route = aws.apigatewayv2.Route(
            f"{name}-route",
            api_id=api.id,
            route_key="$default",
            target=integration.id.apply(lambda i: f"integrations/{i}"),
            opts=child(self),
        )
        alias_permission(self, f"{name}-invoke", args.function_name, args.alias_name, "lambda:InvokeFunction",
                         "apigateway.amazonaws.com", source_arn=api.execution_arn.apply(lambda arn: f"{arn}/*/*"))
        self.register_outputs({"route_id": route.id})

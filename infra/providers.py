"""AWS providers: the default region and us-east-1 (CloudFront certificates live only there).

Both are explicit ``aws.Provider`` resources so that emulator mode reaches both: explicit
providers ignore the stack's ``aws:endpoints`` config, so one ``toolkit:emulatorEndpoint``
value is copied into the endpoints of every service this program calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws

from infra.config import Settings

__all__ = ["CLOUDFRONT_REGION", "EMULATED_SERVICES", "Providers", "make_providers"]

CLOUDFRONT_REGION = "us-east-1"

# Every service the program declares resources in or reads from (ProviderEndpointArgs names).
EMULATED_SERVICES = (
    "acm",
    "apigatewayv2",
    "appautoscaling",
    "autoscaling",
    "cloudfront",
    "cloudwatchlogs",
    "dynamodb",
    "ec2",
    "ecr",
    "ecs",
    "elbv2",
    "iam",
    "lambda_",
    "route53",
    "s3",
    "secretsmanager",
    "sfn",
    "ssm",
    "sts",
)


@dataclass(frozen=True)
class Providers:
    default: aws.Provider
    us_east_1: aws.Provider


def _emulator_args(endpoint: str) -> dict[str, Any]:
    return {
        "endpoints": [aws.ProviderEndpointArgs(**{service: endpoint for service in EMULATED_SERVICES})],
        "s3_use_path_style": True,
        "skip_credentials_validation": True,
        "skip_metadata_api_check": True,
        "skip_region_validation": True,
        "skip_requesting_account_id": True,
        "access_key": "test",  # emulators accept any key; never real credentials
        "secret_key": "test",
    }


def _provider(name: str, region: str, settings: Settings) -> aws.Provider:
    extra: dict[str, Any] = _emulator_args(settings.emulator_endpoint) if settings.emulator_endpoint else {}
    return aws.Provider(name, region=region, **extra)


def make_providers(settings: Settings, prefix: str) -> Providers:
    default = _provider(f"{prefix}-aws", settings.region, settings)
    us_east_1 = _provider(f"{prefix}-aws-{CLOUDFRONT_REGION}", CLOUDFRONT_REGION, settings)
    return Providers(default=default, us_east_1=us_east_1)


"""CloudFront in front of an endpoint that has custom domains.

CloudFront is what lets any number of user domains (apex, subdomain, wildcard) reach one
origin with certificates ACM renews, and it can wait longer for an origin than API Gateway
(60 s by default, 180 s after a quota increase). Its certificate must be in us-east-1.
Nothing is cached: every request reaches the function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import child
from infra.components.domains import Certificate, CertificateArgs, alias_records

__all__ = [
    "ALL_VIEWER_EXCEPT_HOST",
    "CACHING_DISABLED",
    "MIN_TLS",
    "CustomDomainFront",
    "CustomDomainFrontArgs",
]

# AWS managed policies (fixed IDs, same in every account).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
# The origin (API Gateway, the ALB's workspace host) must see its own Host, not the user's.
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
MIN_TLS = "TLSv1.2_2021"
ORIGIN_ID = "endpoint"


@dataclass
class CustomDomainFrontArgs:
    domains: Sequence[str]
    origin_host: pulumi.Input[str]  # API Gateway host, or the ALB host
    origin_https: bool
    zone_id_for: Callable[[str], pulumi.Input[str]]
    us_east_1: aws.Provider
    origin_read_timeout: int = 60


class CustomDomainFront(pulumi.ComponentResource):
    distribution: aws.cloudfront.Distribution

    def __init__(self, name: str, args: CustomDomainFrontArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toolkit:cdn:CustomDomainFront", name, None, opts)
        cert = Certificate(
            f"{name}-cert",
            CertificateArgs(domains=args.domains, zone_id_for=args.zone_id_for, provider=args.us_east_1),
            opts=child(self),
        )
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class="PriceClass_100",
            aliases=list(args.domains),
            origins=[self._origin(args)],
            default_cache_behavior={
                "target_origin_id": ORIGIN_ID,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_DISABLED,
                "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST,
                "compress": True,
            },
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate={
                "acm_certificate_arn": cert.certificate_arn,
                "ssl_support_method": "sni-only",
                "minimum_protocol_version": MIN_TLS,
            },
            opts=child(self, provider=args.us_east_1),
        )
        for domain in args.domains:
            alias_records(
                self, name, domain, args.zone_id_for(domain),
                self.distribution.domain_name, self.distribution.hosted_zone_id,
            )
        self.register_outputs({"domain_name": self.distribution.domain_name})

    @staticmethod
    def _origin(args: CustomDomainFrontArgs) -> Any:
        return {
            "origin_id": ORIGIN_ID,
            "domain_name": args.origin_host,
            "custom_origin_config": {
                "http_port": 80,
                "https_port": 443,
                "origin_protocol_policy": "https-only" if args.origin_https else "http-only",
                "origin_ssl_protocols": ["TLSv1.2"],
                "origin_read_timeout": args.origin_read_timeout,
                "origin_keepalive_timeout": 60,
            },
        }

"""Proxy auth: ``requires_proxy_auth=True`` endpoints need a valid ``Toolkit-Key``/``Toolkit-Secret`` pair.

Only a SHA-256 of each token secret is stored (secrets are 32+ random bytes, so a
fast hash is enough; no dictionary to attack).  Comparison is constant time.

Front door (``runtime.FRONT_DOORS``): the SDK imports proxy-auth headers and
`TokenVerifier`/`hash_secret`, used by ``toolkit token`` and ``toolkit serve``; `__all__` is what it
offers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Protocol

from runtime.gateway.limits import Rejection

__all__ = [
    "CREDENTIAL_HEADERS",
    "StaticTokens",
    "TOKEN_ID_HEADER",
    "TOKEN_SECRET_HEADER",
    "TokenVerifier",
    "check_proxy_auth",
    "has_credentials",
    "hash_secret",
    "without_credentials",
]

TOKEN_ID_HEADER = b"toolkit-key"
TOKEN_SECRET_HEADER = b"toolkit-secret"
# What the gateway consumes and user code never sees: the secret is a password, and an app (or
# anything it logs headers to) has no use for it.  Toolkit-Key stays: it names the token, like a
# user name, so an app may tell its callers apart; it is worthless without the secret.
CREDENTIAL_HEADERS = frozenset({TOKEN_SECRET_HEADER})


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenVerifier(Protocol):
    def stored_hash(self, token_id: str) -> str | None:
        """The stored SHA-256 hex of the token's secret, or None for an unknown id."""
        ...


class StaticTokens:
    """Tokens from a mapping ``{token_id: sha256_hex(secret)}`` (e.g. JSON in ``TOOLKIT_PROXY_TOKENS``)."""

    def __init__(self, hashes: Mapping[str, str]) -> None:
        self._hashes = dict(hashes)

    @classmethod
    def from_json(cls, text: str | None) -> StaticTokens:
        return cls(json.loads(text) if text else {})

    def stored_hash(self, token_id: str) -> str | None:
        return self._hashes.get(token_id)


_CREDENTIAL_LENGTHS = frozenset(len(name) for name in CREDENTIAL_HEADERS)


def has_credentials(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether any of `CREDENTIAL_HEADERS` is present (per request: most names fail on length alone)."""
    return any(len(k) in _CREDENTIAL_LENGTHS and bytes(k).lower() in CREDENTIAL_HEADERS for k, _ in headers)


def without_credentials(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` minus `CREDENTIAL_HEADERS`: what the app behind the gateway may see."""
    return [(k, v) for k, v in headers if bytes(k).lower() not in CREDENTIAL_HEADERS]


def check_proxy_auth(headers: Iterable[tuple[bytes, bytes]], verifier: TokenVerifier) -> Rejection | None:
    found = {bytes(k).lower(): bytes(v).decode("latin-1") for k, v in headers}
    token_id, secret = found.get(TOKEN_ID_HEADER), found.get(TOKEN_SECRET_HEADER)
    if not token_id or not secret:
        return Rejection(401, "Missing Toolkit-Key / Toolkit-Secret headers: this endpoint requires proxy auth "
                              "(create a token with `toolkit token create`).")
    expected = verifier.stored_hash(token_id) or ""
    # compare even for unknown ids so timing does not reveal which ids exist
    if not hmac.compare_digest(hash_secret(secret), expected) or not expected:
        return Rejection(401, "Invalid Toolkit-Key / Toolkit-Secret token pair.")
    return None

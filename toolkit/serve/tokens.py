"""Proxy-auth tokens for ``requires_proxy_auth=True`` endpoints, kept in ``$TOOLKIT_HOME/tokens.json``.

A token is a public id (``Toolkit-Key: tk-...``) and a secret (``Toolkit-Secret: ts-...``)
of 32 random bytes.  Only the SHA-256 of the secret is stored (a high-entropy secret
needs no slow hash), in a file only its owner can read (mode 0600); the gateway compares
in constant time (`runtime.gateway.auth.check_proxy_auth`).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.gateway.auth import hash_secret
from toolkit import config
from toolkit.exception import InvalidError, NotFoundError

KEY_PREFIX, SECRET_PREFIX = "tk-", "ts-"


@dataclass(frozen=True)
class NewToken:
    key: str
    secret: str  # shown once, never stored


@dataclass(frozen=True)
class TokenEntry:
    key: str
    created_at: float


class TokenStore:
    """The local token file; re-read when it changes, so tokens created while serving work at once."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config.home() / "tokens.json"
        self._cache: tuple[float, dict[str, dict[str, object]]] | None = None

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._cache is None or self._cache[0] != mtime:
            try:
                data = json.loads(self.path.read_text())
            except json.JSONDecodeError:
                raise InvalidError(f"{self.path} is not JSON; delete it and create tokens again.") from None
            self._cache = (mtime, data)
        return self._cache[1]

    def _write(self, data: dict[str, dict[str, object]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = self.path.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(temp, self.path)  # atomic: a serving gateway never reads half a file

    def create(self) -> NewToken:
        token = NewToken(KEY_PREFIX + secrets.token_hex(8), SECRET_PREFIX + secrets.token_urlsafe(32))
        data = dict(self._read())
        data[token.key] = {"sha256": hash_secret(token.secret), "created_at": time.time()}
        self._write(data)
        return token

    def list(self) -> list[TokenEntry]:
        return sorted((TokenEntry(k, float(v["created_at"])) for k, v in self._read().items()),  # type: ignore[arg-type]
                      key=lambda t: t.created_at)

    def revoke(self, key: str) -> None:
        data = dict(self._read())
        if data.pop(key, None) is None:
            known = ", ".join(sorted(data)) or "none"
            raise NotFoundError(f"No token {key!r}; existing tokens: {known}.")
        self._write(data)

    def hashes(self) -> dict[str, str]:
        """Every token id with the sha256 of its secret: what a deployed gateway needs to check them."""
        return {key: str(entry["sha256"]) for key, entry in sorted(self._read().items())}

    def stored_hash(self, token_id: str) -> str | None:
        """`runtime.gateway.auth.TokenVerifier`: the stored hash of a token's secret."""
        entry = self._read().get(token_id)
        return str(entry["sha256"]) if entry else None

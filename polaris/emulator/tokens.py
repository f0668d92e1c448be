"""Signed JWTs issued by the local Hub: Hub access tokens and storage tokens (HS256, per-data-dir key)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OctKey

HUB_TOKEN_TYPE = "hub"
STORAGE_TOKEN_TYPE = "storage"
ISSUER = "polaris-hub-emulator"
VERIFIED_CACHE_SIZE = 4096
"""Tokens whose signature and claims were checked, remembered by :class:`TokenSigner` (expiry and revocation are
still checked on every use)."""


class TokenError(Exception):
    """The token is malformed, badly signed, expired, or of the wrong kind."""


class TokenExpiredError(TokenError):
    """The token is well formed and correctly signed, but past its ``exp``."""


class TokenRevokedError(TokenError):
    """The token (or the Hub token it was exchanged from) was revoked, e.g. by a logout."""


@dataclass(frozen=True)
class HubIdentity:
    user: str
    orgs: tuple[str, ...]
    jti: str = ""
    """The Hub token's id (what a revocation denies)."""

    @property
    def owners(self) -> list[str]:
        """Every owner this identity may write for: itself and its organizations."""
        return [self.user, *self.orgs]


class TokenSigner:
    """Issues and verifies the emulator's JWTs.

    Args:
        key: HS256 key (per data dir).
        ttl: lifetime of issued tokens in seconds.
        is_revoked: ``is_revoked(jti)`` for the denylist of revoked Hub tokens; checked on every decode of a Hub
            token, and of a storage token against the Hub token it was exchanged from (``hub_jti`` claim).
    """

    def __init__(self, key: bytes, ttl: int, is_revoked: Callable[[str], bool] | None = None) -> None:
        self._key = OctKey.import_key(key)
        self.ttl = ttl
        self._is_revoked = is_revoked
        self._verified: dict[str, dict[str, Any]] = {}
        self._verified_lock = threading.Lock()

    def _encode(self, claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, self._key)

    def issue_hub_token(self, user: str, orgs: list[str]) -> str:
        now = int(time.time())
        return self._encode(
            {
                "iss": ISSUER,
                "sub": user,
                "orgs": orgs,
                "typ": HUB_TOKEN_TYPE,
                "iat": now,
                "exp": now + self.ttl,
                "jti": secrets.token_hex(8),
            }
        )

    def issue_storage_token(
        self, user: str, resource: str, scope: str, prefixes: list[str], *, hub_jti: str = ""
    ) -> str:
        """A storage token; ``hub_jti`` (the Hub token it was exchanged from) makes it die with that token."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": user,
            "typ": STORAGE_TOKEN_TYPE,
            "resource": resource,
            "scope": scope,
            "prefixes": prefixes,
            "iat": now,
            "exp": now + self.ttl,
            "jti": secrets.token_hex(8),
        }
        if hub_jti:
            claims["hub_jti"] = hub_jti
        return self._encode(claims)

    def decode(self, token: str, expected_type: str) -> dict[str, Any]:
        """Verify signature, expiry and kind.

        Raises:
            TokenExpiredError: a correctly signed token of any kind that is past its expiry.
            TokenRevokedError: a Hub token on the denylist, or a storage token exchanged from one.
            TokenError: for anything else but a valid, unexpired token of ``expected_type``.
        """
        claims = self._checked_claims(token)
        if claims.get("typ") != expected_type:
            raise TokenError("token of the wrong kind")
        if self._is_revoked is not None:
            denied = claims.get("jti") if expected_type == HUB_TOKEN_TYPE else claims.get("hub_jti")
            if isinstance(denied, str) and denied and self._is_revoked(denied):
                raise TokenRevokedError("the token was revoked (logged out)")
        return claims

    def _checked_claims(self, token: str) -> dict[str, Any]:
        """The claims of a correctly signed, unexpired token of this issuer (a copy).

        The signature check (HMAC plus JSON parsing, ~0.1 ms) is done once per token: the storage gateway sees the
        same storage token on every request of a transfer. Expiry is checked on every call.
        """
        with self._verified_lock:
            known = self._verified.get(token)
        if known is not None:
            if known["exp"] < time.time():
                with self._verified_lock:
                    self._verified.pop(token, None)
                raise TokenExpiredError("the token has expired")
            return dict(known)
        try:
            decoded = jwt.decode(token, self._key, algorithms=["HS256"])
            registry = jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": ISSUER},
                exp={"essential": True},
                sub={"essential": True},
                leeway=0,
            )
            registry.validate(decoded.claims)
        except ExpiredTokenError:
            raise TokenExpiredError("the token has expired") from None
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenError(f"invalid token: {exc.__class__.__name__}") from None
        claims = dict(decoded.claims)
        if isinstance(claims.get("exp"), int | float):
            with self._verified_lock:
                if len(self._verified) >= VERIFIED_CACHE_SIZE:
                    self._verified.clear()
                self._verified[token] = dict(claims)
        return claims

    def verify_signature(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this emulator signed (expired or not), or None; for revocation only."""
        try:
            return dict(jwt.decode(token, self._key, algorithms=["HS256"]).claims)
        except (JoseError, ValueError, TypeError):
            return None

    def hub_identity(self, token: str) -> HubIdentity:
        claims = self.decode(token, HUB_TOKEN_TYPE)
        orgs = claims.get("orgs") or []
        if not isinstance(orgs, list) or not all(isinstance(o, str) for o in orgs):
            raise TokenError("invalid orgs claim")
        return HubIdentity(user=str(claims["sub"]), orgs=tuple(orgs), jti=str(claims.get("jti") or ""))

"""Signed JWTs issued by the local Hub: Hub access tokens and storage tokens (HS256, per-data-dir key)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OctKey

HUB_TOKEN_TYPE = "hub"
STORAGE_TOKEN_TYPE = "storage"
ISSUER = "polaris-hub-emulator"


class TokenError(Exception):
    """The token is malformed, badly signed, expired, or of the wrong kind."""


class TokenExpiredError(TokenError):
    """The token is well formed and correctly signed, but past its ``exp``."""


@dataclass(frozen=True)
class HubIdentity:
    user: str
    orgs: tuple[str, ...]

    @property
    def owners(self) -> list[str]:
        """Every owner this identity may write for: itself and its organizations."""
        return [self.user, *self.orgs]


class TokenSigner:
    def __init__(self, key: bytes, ttl: int) -> None:
        self._key = OctKey.import_key(key)
        self.ttl = ttl

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

    def issue_storage_token(self, user: str, resource: str, scope: str, prefixes: list[str]) -> str:
        now = int(time.time())
        return self._encode(
            {
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
        )

    def decode(self, token: str, expected_type: str) -> dict[str, Any]:
        """Verify signature, expiry and kind.

        Raises:
            TokenExpiredError: a correctly signed token of any kind that is past its expiry.
            TokenError: for anything else but a valid, unexpired token of ``expected_type``.
        """
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
        if claims.get("typ") != expected_type:
            raise TokenError("token of the wrong kind")
        return claims

    def hub_identity(self, token: str) -> HubIdentity:
        claims = self.decode(token, HUB_TOKEN_TYPE)
        orgs = claims.get("orgs") or []
        if not isinstance(orgs, list) or not all(isinstance(o, str) for o in orgs):
            raise TokenError("invalid orgs claim")
        return HubIdentity(user=str(claims["sub"]), orgs=tuple(orgs))

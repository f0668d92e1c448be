"""The identity provider of the local Hub, on authlib's server classes.

Stands in for the Hub's external OAuth2 provider: authorization code grant with PKCE (S256 only,
required at ``/authorize``), rotating refresh tokens, one public client. Authlib's server calls
are synchronous; the Starlette glue hands them a request whose form/query was awaited already.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from typing import Any, ClassVar
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from starlette.datastructures import MultiDict

from polaris.emulator.db import Database, User

DEFAULT_CLIENT_ID = "agQP2xVM6JqMHvGc"
SUPPORTED_SCOPES = ("openid", "profile", "email")
DEFAULT_SCOPE = "profile email"
TOKEN_BYTES = 32
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class PublicClient(ClientMixin):  # type: ignore[misc]
    """The public (secret-less) client the Polaris client uses."""

    def __init__(self, client_id: str, callback_url: str) -> None:
        self.client_id = client_id
        self.callback_url = callback_url

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.callback_url

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return DEFAULT_SCOPE
        return " ".join(s for s in scope.split() if s in SUPPORTED_SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """The Hub's callback page, or any loopback http URI on any port (RFC 8252 §7.3)."""
        if redirect_uri == self.callback_url:
            return True
        try:
            parts = urlsplit(redirect_uri)
            _ = parts.port
        except ValueError:
            return False
        return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and not parts.fragment

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, values: MultiDict) -> None:
        self._values = values

    @property
    def data(self) -> dict[str, str]:
        return {k: v for k, v in self._values.items()}

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        out: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._values.multi_items():
            out[key].append(value)
        return out


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """An authlib request built from values Starlette has already parsed."""

    def __init__(self, method: str, uri: str, headers: dict[str, str], values: MultiDict) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._values = values
        self.payload = _Payload(values)

    @property
    def args(self) -> MultiDict:
        return self._values

    @property
    def form(self) -> dict[str, str]:
        return {k: v for k, v in self._values.items()}


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE that refuses, already at ``/authorize``, a request without an S256 challenge."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE with S256 is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)


class IdentityProvider(AuthorizationServer):  # type: ignore[misc]
    """authlib AuthorizationServer bound to the emulator's database."""

    def __init__(self, db: Database, *, callback_url: str, token_ttl: int, client_id: str = DEFAULT_CLIENT_ID):
        super().__init__(scopes_supported=list(SUPPORTED_SCOPES))
        self.db = db
        self.token_ttl = token_ttl
        self.client = PublicClient(client_id, callback_url)
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: secrets.token_urlsafe(TOKEN_BYTES),
                refresh_token_generator=lambda **_: secrets.token_urlsafe(TOKEN_BYTES),
                expires_generator=lambda client, grant_type: self.token_ttl,
            ),
        )
        self.register_grant(_AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(_RefreshTokenGrant)

    # authlib hooks
    def query_client(self, client_id: str) -> PublicClient | None:
        return self.client if client_id == self.client.client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.db.save_idp_token(token, client_id=request.client.get_client_id(), user=request.user.slug)

    def create_oauth2_request(self, request: StarletteOAuth2Request) -> StarletteOAuth2Request:
        return request

    def create_json_request(self, request: Any) -> Any:  # pragma: no cover - no JSON endpoints
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def userinfo(self, access_token: str) -> dict[str, Any] | None:
        row = self.db.idp_token_by_access(access_token)
        if row is None:
            return None
        user = self.db.get_user(row["user"])
        if user is None:
            return None
        return {
            "sub": user.external_id,
            "preferred_username": user.slug,
            "username": user.slug,
            "email": user.email,
            "email_verified": True,
        }


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.db.save_code(
            code,
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.scope or "",
            user=request.user.slug,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: PublicClient) -> _StoredCode | None:
        row = self.server.db.get_code(code, client.get_client_id())
        return None if row is None else _StoredCode(dict(row))

    def delete_authorization_code(self, authorization_code: _StoredCode) -> None:
        self.server.db.delete_code(authorization_code.code)

    def authenticate_user(self, authorization_code: _StoredCode) -> User | None:
        # Claim the code atomically: of two concurrent exchanges only one gets a user.
        if not self.server.db.delete_code(authorization_code.code):
            return None
        user: User | None = self.server.db.get_user(authorization_code.user)
        return user


class _StoredCode:
    def __init__(self, row: dict[str, Any]) -> None:
        self.code: str = row["code"]
        self.user: str = row["user"]
        self.redirect_uri: str = row["redirect_uri"]
        self.scope: str = row["scope"]
        self.code_challenge: str | None = row["code_challenge"]
        self.code_challenge_method: str | None = row["code_challenge_method"]

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class _StoredToken:
    def __init__(self, row: dict[str, Any]) -> None:
        self.refresh_token: str = row["refresh_token"]
        self.client_id: str = row["client_id"]
        self.user: str = row["user"]
        self.scope: str = row["scope"]

    def check_client(self, client: PublicClient) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope


class _RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh returns a new refresh token

    def authenticate_refresh_token(self, refresh_token: str) -> _StoredToken | None:
        row = self.server.db.idp_token_by_refresh(refresh_token)
        return None if row is None else _StoredToken(dict(row))

    def authenticate_user(self, refresh_token: _StoredToken) -> User | None:
        # Revoke first and atomically: a refresh token works exactly once.
        if not self.server.db.revoke_refresh(refresh_token.refresh_token):
            return None
        user: User | None = self.server.db.get_user(refresh_token.user)
        return user

    def revoke_old_credential(self, refresh_token: _StoredToken) -> None:
        return None  # already revoked in authenticate_user

"""The Hub's token endpoint (RFC 8693 token exchange and password grant): Hub tokens and storage tokens.

- ``POST /api/auth/token`` — Hub token (exchange of an identity-provider token, or password grant) and storage token
  (exchange of a Hub token for one artifact's objects: ``resource`` = artifact URN, ``scope`` = read|write).
  URN types with objects: ``dataset`` (paths ``root`` [+ ``extension``] or ``root`` + ``manifest``),
  ``competitionDataset`` (0.10), ``benchmark`` (V2 benchmarks: ``training`` + ``test``, files ending ``.roaring``)
  and ``competition`` (0.11+: ``root`` + ``manifest``).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polaris.emulator.core import (
    BENCHMARK_V2,
    COMPETITION_DATASET,
    COMPETITION_V1,
    DATASET,
    DATASET_V2,
    ApiError,
    HubState,
    OAuthError,
    oauth_error_response,
    read_body,
    storage_paths,
    storage_prefix,
)
from polaris.emulator.db import User
from polaris.emulator.tokens import TokenError
from polaris.types import slugify

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TT_ACCESS = "urn:ietf:params:oauth:token-type:access_token"
TT_JWT = "urn:ietf:params:oauth:token-type:jwt"


class TokenEndpoint:
    def __init__(self, state: HubState) -> None:
        self.state = state

    async def endpoint(self, request: Request) -> Response:
        try:
            form = await self._form(request)
            return JSONResponse(self.handle(form), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
        except OAuthError as exc:
            return oauth_error_response(exc.error, exc.description, exc.status)

    @staticmethod
    async def _form(request: Request) -> dict[str, str]:
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
        try:
            raw = await read_body(request)
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except ApiError as exc:
            raise OAuthError("invalid_request", exc.message) from None
        except (UnicodeDecodeError, ValueError):
            raise OAuthError("invalid_request", "the form body is not valid UTF-8 form encoding") from None
        form: dict[str, str] = {}
        for key, value in pairs:
            if key in form:
                raise OAuthError("invalid_request", f"parameter '{key}' given more than once")
            form[key] = value
        return form

    def handle(self, form: dict[str, str]) -> dict[str, Any]:
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request", "missing 'grant_type'")
        if grant == "password":
            user = self._password(form)
            return self._hub_token(user)
        if grant != TOKEN_EXCHANGE:
            raise OAuthError("unsupported_grant_type", f"grant_type '{grant}' is not supported here")
        requested = form.get("requested_token_type")
        if requested and requested != TT_JWT:
            raise OAuthError("invalid_request", f"requested_token_type must be '{TT_JWT}'")
        subject = form.get("subject_token")
        subject_type = form.get("subject_token_type")
        if not subject or not subject_type:
            raise OAuthError("invalid_request", "missing 'subject_token' or 'subject_token_type'")
        if subject_type == TT_ACCESS:
            row = self.state.db.idp_token_by_access(subject)
            idp_user = None if row is None else self.state.db.get_user(row["user"])
            if idp_user is None:
                raise OAuthError("invalid_grant", "the subject token is not a valid, unexpired identity-provider token")
            return self._hub_token(idp_user)
        if subject_type == TT_JWT:
            return self._storage_token(subject, form)
        raise OAuthError("invalid_request", f"unsupported subject_token_type '{subject_type}'")

    def _kinds(self, urn_type: str) -> tuple[str, ...] | None:
        """Artifact kinds a URN type names, among those with stored objects (per served protocol generation)."""
        legacy, modern = self.state.legacy, self.state.modern
        table: dict[str, tuple[str, ...]] = {
            "dataset": (DATASET, DATASET_V2) + ((COMPETITION_DATASET,) if legacy else ()),
        }
        if legacy:
            table["competitionDataset"] = table["competition_dataset"] = (COMPETITION_DATASET,)
        if modern:
            table["benchmark"] = (BENCHMARK_V2,)  # V1 benchmarks have no objects
            table["competition"] = (COMPETITION_V1,)  # 0.11+ competitions are Zarr archives
        return table.get(urn_type)

    def _password(self, form: dict[str, str]) -> User:
        username, password = form.get("username"), form.get("password")
        if not username or not password:
            raise OAuthError("invalid_request", "the password grant needs 'username' and 'password'")
        user = self.state.db.authenticate(username, password)
        if user is None:
            raise OAuthError("invalid_grant", "wrong username or password")
        return user

    def _hub_token(self, user: User) -> dict[str, Any]:
        orgs = self.state.db.user_orgs(user.slug)
        return {
            "access_token": self.state.signer.issue_hub_token(user.slug, orgs),
            "token_type": "Bearer",
            "issued_token_type": TT_JWT,
            "expires_in": self.state.token_ttl,
        }

    def _storage_token(self, subject: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            who = self.state.signer.hub_identity(subject)
        except TokenError as exc:
            raise OAuthError("invalid_grant", f"the subject token is not a valid Hub token ({exc})") from None
        resource, scope = form.get("resource"), form.get("scope")
        if not resource:
            raise OAuthError("invalid_request", "a storage token needs 'resource' (an artifact URN)")
        if scope not in ("read", "write"):
            raise OAuthError("invalid_scope", "scope must be 'read' or 'write'")
        parts = resource.split(":")
        if len(parts) != 5 or parts[:2] != ["urn", "polaris"]:
            raise OAuthError("invalid_target", "resource must be urn:polaris:<type>:<owner>:<slug>")
        urn_type, owner, slug = parts[2], slugify(parts[3]), slugify(parts[4])
        kinds = self._kinds(urn_type)
        if kinds is None:
            raise OAuthError("invalid_target", f"artifacts of type '{urn_type}' have no stored objects")
        art = None
        for kind in kinds:
            candidate = self.state.db.get_artifact(kind, owner, slug)
            if candidate is not None and (candidate.access == "public" or owner in who.owners):
                art = candidate
                break
        if art is None:
            raise OAuthError("invalid_target", f"no artifact {resource} that you can access")
        if scope == "write" and art.owner not in who.owners:
            raise OAuthError("access_denied", f"you may read but not write {resource}", status=403)
        paths = storage_paths(art)
        prefix = storage_prefix(art)
        token = self.state.signer.issue_storage_token(who.user, resource, scope, [prefix])
        return {
            "access_token": token,
            "token_type": "Storage",
            "issued_token_type": TT_JWT,
            "expires_in": self.state.token_ttl,
            "extra_data": {
                "key": f"polaris-{who.user}",
                "secret": secrets.token_urlsafe(24),
                "endpoint": self.state.store.public_endpoint,
                "paths": paths,
            },
        }


def routes(state: HubState) -> list[Route]:
    return [Route("/api/auth/token", TokenEndpoint(state).endpoint, methods=["POST"])]

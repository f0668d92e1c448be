"""Token revocation (RFC 7009) on the identity provider's origin: what a logout calls.

- ``POST /oauth/revoke`` — form ``token`` (required), ``token_type_hint`` (optional), ``client_id`` (optional; the
  public client's id when given). Revokes a Hub token (its id goes on the denylist, checked on every authenticated
  request and by every storage token exchanged from it) or an identity-provider access / refresh token.

As RFC 7009 §2.2 asks, the answer is ``200`` with an empty body whether or not the token was known (an invalid or
expired token needs no revoking); ``400 invalid_request`` without ``token``, ``401 invalid_client`` for a wrong
``client_id``.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from polaris.emulator.core import ApiError, HubState, oauth_error_response, read_body
from polaris.emulator.tokens import HUB_TOKEN_TYPE, ISSUER

REVOKE_PATH = "/oauth/revoke"


class RevocationEndpoint:
    def __init__(self, state: HubState) -> None:
        self.state = state

    async def revoke(self, request: Request) -> Response:
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return oauth_error_response("invalid_request", "the body must be application/x-www-form-urlencoded")
        try:
            raw = await read_body(request)
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except (ApiError, UnicodeDecodeError, ValueError):
            return oauth_error_response("invalid_request", "the body is not a valid UTF-8 form")
        token = form.get("token", "")
        if not token:
            return oauth_error_response("invalid_request", "missing 'token'")
        client_id = form.get("client_id")
        if client_id is not None and self.state.idp.query_client(client_id) is None:
            return oauth_error_response("invalid_client", f"unknown client_id '{client_id}'", 401)
        self._revoke(token)
        return Response(status_code=200, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _revoke(self, token: str) -> None:
        claims: dict[str, Any] | None = self.state.signer.verify_signature(token)
        if claims is not None:
            jti, exp = claims.get("jti"), claims.get("exp")
            if (
                claims.get("iss") == ISSUER
                and claims.get("typ") == HUB_TOKEN_TYPE
                and isinstance(jti, str)
                and isinstance(exp, int | float)
                and exp > time.time()
            ):
                self.state.db.revoke_jti(jti, float(exp))
            return
        self.state.db.revoke_idp_token(token)


def routes(state: HubState) -> list[Route]:
    endpoint = RevocationEndpoint(state)
    return [Route(REVOKE_PATH, endpoint.revoke, methods=["POST"])]

"""The Hub's discovery document: where its API, token endpoint and identity provider live.

- ``GET /.well-known/polaris-hub`` — JSON ``{"hub_url", "api_url", "hub_token_url", "revoke_url",
  "authorize_url", "token_fetch_url", "user_info_url", "client_id"}`` (the names of the client's settings).

A client pointed at this Hub with the identity-provider settings left at the real Hub's defaults reads it before a
login, instead of sending the user to the real Hub's identity provider with a local redirect.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polaris.emulator.core import HubState

#: Where the document is served (relative to the Hub's root).
DISCOVERY_PATH = "/.well-known/polaris-hub"


def document(state: HubState) -> dict[str, str]:
    """The discovery document of this local Hub."""
    base = state.hub_url
    return {
        "hub_url": base,
        "api_url": state.api_url,
        "hub_token_url": base + "api/auth/token",
        "revoke_url": base + "oauth/revoke",
        "authorize_url": base + "oauth/authorize",
        "token_fetch_url": base + "oauth/token",
        "user_info_url": base + "oauth/userinfo",
        "client_id": state.idp.client.client_id,
    }


def routes(state: HubState) -> list[Route]:
    async def discovery(request: Request) -> Response:
        return JSONResponse(document(state), headers={"Cache-Control": "no-store"})

    return [Route(DISCOVERY_PATH, discovery, methods=["GET"])]

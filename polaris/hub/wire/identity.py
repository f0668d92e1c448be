"""The identity provider's user-info call (the only wire call that does not go to the Hub's API)."""

from __future__ import annotations

from typing import Any

import httpx

from polaris.errors import PolarisHubError
from polaris.hub.wire.errors import connection_error, error_for_status, raise_for_response

__all__ = ["fetch_user_info"]


def fetch_user_info(http: httpx.Client, *, user_info_url: str) -> dict[str, Any]:
    """``GET user_info_url`` with the external access token (``http`` carries base_url and the header).

    Returns the user-info claims (``sub``, ``email``, ``name``, ``preferred_username`` when known).

    Raises:
        HubConnectionError: the identity provider cannot be reached.
        PolarisUnauthorizedError: the external token was refused.
        PolarisHubError: any other failure.
    """
    from polaris_hub_api import AuthenticatedClient
    from polaris_hub_api.api.identity import get_user_info
    from polaris_hub_api.models.user_info import UserInfo

    if not user_info_url.rstrip("/").endswith("/oauth/userinfo"):
        # Not where the spec puts the operation: fetch the configured URL as it is.
        try:
            response = http.get(user_info_url)
        except httpx.TransportError as exc:
            raise connection_error(exc, method="GET", url=user_info_url) from exc
        raise_for_response(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise PolarisHubError(f"GET {user_info_url}: the answer is not JSON") from exc
        if not isinstance(data, dict):
            raise PolarisHubError(f"GET {user_info_url}: the answer is not user information")
        return {k: v for k, v in data.items() if v is not None}
    api = AuthenticatedClient(base_url=str(http.base_url), token="").set_httpx_client(http)
    try:
        result = get_user_info.sync_detailed(client=api)
    except httpx.TransportError as exc:
        raise connection_error(exc, method="GET", url=user_info_url) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise PolarisHubError(f"GET {user_info_url}: unexpected answer ({type(exc).__name__})") from exc
    status = int(result.status_code)
    if not 200 <= status < 300:
        raise error_for_status(status, result.content, result.headers, method="GET", url=user_info_url)
    if not isinstance(result.parsed, UserInfo):
        raise PolarisHubError(f"GET {user_info_url}: the answer is not user information", status_code=status)
    claims: dict[str, Any] = {k: v for k, v in result.parsed.to_dict().items() if v is not None}
    return claims

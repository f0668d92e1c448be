"""The Hub's token endpoints, driven with a plain httpx client: the RFC 8693 exchanges (identity-provider token
-> Hub token, Hub token -> storage token), the password grant, and RFC 7009 revocation."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx

from polaris.errors import (
    HubServerError,
    InvalidSettingError,
    NotAPolarisHubError,
    PolarisHubError,
    TokenExchangeError,
)
from polaris.hub.redact import redact_url
from polaris.hub.token_cache import with_expires_at
from polaris.hub.wire import connection_error, error_for_status

if TYPE_CHECKING:
    from polaris.hub.settings import PolarisHubSettings

logger = logging.getLogger(__name__)

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
#: The Hub's client has no id; the reference client sends Python's ``None`` as text, and so do we.
HUB_CLIENT_ID = "None"
_FORM_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}


# ---------------------------------------------------------------------------------------------- token endpoints
def token_endpoint(settings: PolarisHubSettings) -> str:
    """``hub_token_url``, after checking it may receive a token or a password (the Hub's origin, an origin the Hub's
    discovery document named, or one allowed with ``POLARIS_ALLOW_TOKEN_ORIGINS``).

    Raises:
        InvalidSettingError: it is on another origin (changed after the settings were validated).
    """
    url = settings.resolved_hub_token_url
    if not settings.may_receive_token(url):
        raise InvalidSettingError(
            f"Refusing to send a token to {redact_url(url)}: POLARIS_HUB_TOKEN_URL is not on the origin of "
            f"POLARIS_HUB_URL ({redact_url(settings.hub_url)})",
            variables=["POLARIS_HUB_TOKEN_URL", "POLARIS_ALLOW_TOKEN_ORIGINS"],
        )
    return url


def _post_token_form(
    http: httpx.Client, url: str, form: dict[str, str], *, step: str, token_type: str = "bearer"
) -> dict[str, Any]:
    """POST a token request; return the token with ``expires_at``.

    ``token_type`` is the type the answer must have when it names one (``bearer``; ``storage`` for storage tokens).

    Raises:
        HubConnectionError: no answer. HubServerError: 5xx. TokenExchangeError: an RFC 6749 error.
        PolarisHubError: anything else that is not a token.
    """
    try:
        response = http.post(url, data=form, headers=_FORM_HEADERS)
    except httpx.TransportError as exc:
        raise connection_error(exc, method="POST", url=url) from exc
    if response.status_code >= 500:
        raise HubServerError(
            f"{step}: the token endpoint {redact_url(url)} failed",
            status_code=response.status_code,
            method="POST",
            url=url,
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("error"):
        raise TokenExchangeError(
            f"{step} at {redact_url(url)} failed",
            error=str(data["error"]),
            error_description=str(data["error_description"]) if data.get("error_description") else None,
            status_code=response.status_code,
            method="POST",
            url=url,
        )
    if not 200 <= response.status_code < 300:
        raise error_for_status(response.status_code, response.content, response.headers, method="POST", url=url)
    if not isinstance(data, dict):
        raise NotAPolarisHubError(
            f"{step}: {redact_url(url)} answered HTTP {response.status_code} with something that is not a token "
            "(not JSON): it is not a Polaris Hub token endpoint",
            method="POST",
            url=url,
        )
    if not isinstance(data.get("access_token"), str):
        raise PolarisHubError(
            f"{step}: the token endpoint {redact_url(url)} answered without an access token", method="POST", url=url
        )
    answered_type = data.get("token_type")
    if answered_type is not None and str(answered_type).lower() != token_type:
        raise PolarisHubError(
            f"{step}: {redact_url(url)} answered an unexpected token type {answered_type!r}", method="POST", url=url
        )
    return with_expires_at(data)


def exchange_for_hub_token(
    http: httpx.Client, settings: PolarisHubSettings, external_access_token: str
) -> dict[str, Any]:
    """RFC 8693: trade the identity provider's access token for a Hub token (fields as the Hub expects).

    Raises: see :func:`_post_token_form`.
    """
    form = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": external_access_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "requested_token_type": JWT_TOKEN_TYPE,
        "client_id": HUB_CLIENT_ID,
    }
    token = _post_token_form(http, token_endpoint(settings), form, step="Exchanging the login for a Hub token")
    token.pop("refresh_token", None)  # Hub tokens are renewed by a new exchange, never refreshed
    return token


def exchange_for_storage_token(
    http: httpx.Client, settings: PolarisHubSettings, hub_access_token: str, *, resource: str, scope: str
) -> dict[str, Any]:
    """RFC 8693: trade the Hub token for a storage token on one artifact (``resource`` URN, ``read``/``write``).

    Returns the raw answer (with ``expires_at``): ``access_token`` plus ``extra_data`` (S3 key, secret, endpoint and
    the artifact's paths).

    Raises: see :func:`_post_token_form` (``TokenExchangeError`` when the Hub refuses this artifact or scope).
    """
    form = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": hub_access_token,
        "subject_token_type": JWT_TOKEN_TYPE,
        "requested_token_type": JWT_TOKEN_TYPE,
        "resource": resource,
        "scope": scope,
        "client_id": HUB_CLIENT_ID,
    }
    step = f"Getting {scope} access to the storage of {resource}"
    return _post_token_form(http, token_endpoint(settings), form, step=step, token_type="storage")


def password_grant(http: httpx.Client, settings: PolarisHubSettings) -> dict[str, Any]:
    """The Hub's password grant (``username`` + ``password`` from the settings).

    Raises: see :func:`_post_token_form`.
    """
    form = {
        "grant_type": "password",
        "username": settings.username or "",
        "password": settings.password_value() or "",
        "client_id": HUB_CLIENT_ID,
    }
    token = _post_token_form(http, token_endpoint(settings), form, step="Logging in with username and password")
    token.pop("refresh_token", None)
    return token


def revoke_token(http: httpx.Client, url: str, token: str, *, hint: str, client_id: str | None = None) -> bool:
    """RFC 7009: ask ``url`` to revoke ``token`` (``token_type_hint`` = ``hint``). Best effort: never raises.

    Returns whether the endpoint answered 2xx. A missing endpoint (404/405), another refusal or a network error is
    logged at DEBUG: a logout must work offline and against a Hub without revocation.
    """
    form = {"token": token, "token_type_hint": hint}
    if client_id:
        form["client_id"] = client_id
    try:
        response = http.post(url, data=form, headers=_FORM_HEADERS)
    except httpx.HTTPError as exc:
        logger.debug("Token revocation at %s failed: %s", url, type(exc).__name__)
        return False
    if 200 <= response.status_code < 300:
        logger.debug("Revoked the %s at %s", hint.replace("_", " "), url)
        return True
    logger.debug("Token revocation at %s answered HTTP %d; nothing revoked", url, response.status_code)
    return False

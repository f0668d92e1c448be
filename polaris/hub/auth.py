"""Logging in to the Polaris Hub and keeping the Hub token fresh.

Three token layers (see the Hub protocol): the identity provider's token (authorization code + PKCE S256),
the Hub token (RFC 8693 exchange of the former, or the password grant), and storage tokens (not here).

The token endpoints are driven with a plain httpx client (not the authenticated one): an OAuth2 client
would try to sign its own token request.
"""

from __future__ import annotations

import html
import logging
import socket
import threading
import time
import warnings
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from polaris.errors import (
    HubServerError,
    PolarisError,
    PolarisHubError,
    PolarisUnauthorizedError,
    TokenExchangeError,
)
from polaris.hub._wire import connection_error, error_for_status, fetch_user_info
from polaris.hub.redact import redact_url
from polaris.hub.token_cache import CachedTokens, TokenCache, with_expires_at

if TYPE_CHECKING:
    from polaris.hub.settings import PolarisHubSettings

__all__ = [
    "CALLBACK_WAIT_SECONDS",
    "PKCE_VERIFIER_LENGTH",
    "TOKEN_EXPIRY_LEEWAY_SECONDS",
    "ConsoleLoginUI",
    "HubAuthenticator",
    "LoginResult",
    "LoginUI",
    "LoopbackCallbackServer",
    "load_oauth2_client_class",
    "revoke_token",
]

logger = logging.getLogger(__name__)

#: Longest wait for the browser to come back to the loopback callback.
CALLBACK_WAIT_SECONDS = 300.0
#: Length of the PKCE code verifier (RFC 7636 allows 43-128).
PKCE_VERIFIER_LENGTH = 48
#: A token is treated as expired this many seconds before its ``expires_at``.
TOKEN_EXPIRY_LEEWAY_SECONDS = 30
#: For tokens living shorter than the leeway, this fraction of their lifetime is used instead.
SHORT_TOKEN_LEEWAY_FRACTION = 0.25
#: How often the loopback server checks whether it should stop.
_SERVER_POLL_SECONDS = 0.05

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
#: The Hub's client has no id; the reference client sends Python's ``None`` as text, and so do we.
HUB_CLIENT_ID = "None"
#: Path of the generated user-info operation (relative to the identity provider's base URL).
USER_INFO_PATH = "/oauth/userinfo"
_FORM_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def load_oauth2_client_class() -> type[Any]:
    """authlib's httpx ``OAuth2Client``, imported with its httpx->httpx2 deprecation warning silenced.

    This is the one place that warning is filtered. The class must be an ``httpx.Client`` subclass
    (authlib builds on ``httpx2`` instead when that is installed, which this package does not support).

    Raises:
        ImportError: authlib is built on something other than httpx.
    """
    import authlib.deprecate  # installs authlib's own "always" filter first, so ours below wins

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*httpx module is deprecated.*", category=authlib.deprecate.AuthlibDeprecationWarning
        )
        from authlib.integrations.httpx_client import OAuth2Client

    if not issubclass(OAuth2Client, httpx.Client):
        raise ImportError("authlib's OAuth2Client is not built on httpx (is httpx2 installed?); pin authlib<1.10")
    return OAuth2Client  # type: ignore[no-any-return]


def is_expired(token: dict[str, Any] | None, *, leeway: float = TOKEN_EXPIRY_LEEWAY_SECONDS) -> bool:
    """True when the token is missing or will expire within ``leeway`` seconds (no ``expires_at``: never)."""
    if not token or not token.get("access_token"):
        return True
    expires_at = token.get("expires_at")
    if expires_at is None:
        return False
    try:
        lifetime = float(token.get("expires_in") or 0)
        if lifetime > 0:
            leeway = min(leeway, lifetime * SHORT_TOKEN_LEEWAY_FRACTION)  # short-lived tokens stay usable
        return float(expires_at) - leeway < time.time()
    except (TypeError, ValueError):
        return True


# ---------------------------------------------------------------------------------------------- user interaction
class LoginUI(Protocol):
    """How ``login`` talks to the person logging in (the only user-facing output of the library)."""

    def open_url(self, url: str) -> None:
        """Show the authorization URL (and open a browser if wanted)."""

    def ask_code(self) -> str:
        """Read the authorization code the user copied from the Hub's callback page."""


class ConsoleLoginUI:
    """The terminal: prints the URL on stderr, opens a browser if asked, reads a pasted code."""

    def __init__(self, *, auto_open_browser: bool = True) -> None:
        self.auto_open_browser = auto_open_browser

    def _console(self) -> Any:
        from rich.console import Console

        return Console(stderr=True)

    def open_url(self, url: str) -> None:
        console = self._console()
        console.print("Open this link in a browser to log in to the Polaris Hub:", style="bold")
        console.print(url, soft_wrap=True, markup=False, highlight=False)
        if self.auto_open_browser:
            try:
                webbrowser.open(url, new=2)
            except webbrowser.Error:
                logger.debug("No browser could be opened")

    def ask_code(self) -> str:
        from rich.prompt import Prompt

        return str(Prompt.ask("Paste the authorization code shown after logging in", console=self._console()))


# ---------------------------------------------------------------------------------------------- loopback catcher
class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackHTTPServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.server.expected_path:
            self.send_error(404)
            return
        params = {k: v[0] for k, v in parse_qs(parts.query).items() if v}
        if "error" in params:
            body = "<h1>Login failed</h1><p>{}</p><p>You can close this tab.</p>".format(
                html.escape(params.get("error_description") or params["error"])
            )
        elif "code" in params:
            body = "<h1>Logged in to the Polaris Hub</h1><p>You can close this tab and return to the terminal.</p>"
        else:
            self.send_error(400, "missing code")
            return
        data = f"<!doctype html><html><head><title>Polaris login</title></head><body>{body}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)
        if self.server.result is None:
            self.server.result = params
            self.server.done.set()

    def log_message(self, format: str, *args: Any) -> None:  # keep codes out of stderr
        logger.debug("login callback: %s", self.command)


class _CallbackHTTPServer(HTTPServer):
    def __init__(self, address: tuple[str, int], family: socket.AddressFamily, expected_path: str) -> None:
        self.address_family = family
        self.expected_path = expected_path
        self.result: dict[str, str] | None = None
        self.done = threading.Event()
        super().__init__(address, _CallbackHandler)


class LoopbackCallbackServer:
    """A one-shot local HTTP server that catches ``?code&state`` (RFC 8252, loopback redirect).

    ``callback_url`` gives host, port and path; port 0 (or none) picks a free port, and
    :attr:`redirect_uri` then names the real one.
    """

    def __init__(self, callback_url: str) -> None:
        parts = urlsplit(callback_url)
        host = parts.hostname or "127.0.0.1"
        bind_host = "127.0.0.1" if host == "localhost" else host
        family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
        self._server = _CallbackHTTPServer((bind_host, parts.port or 0), family, parts.path or "/")
        port = self._server.server_address[1]
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.redirect_uri = urlunsplit(("http", netloc, parts.path or "/", "", ""))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": _SERVER_POLL_SECONDS}, daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float = CALLBACK_WAIT_SECONDS) -> dict[str, str]:
        """The query parameters of the first callback.

        Raises:
            PolarisUnauthorizedError: nothing arrived within ``timeout`` seconds.
        """
        if not self._server.done.wait(timeout):
            raise PolarisUnauthorizedError(
                f"No login callback arrived within {timeout:.0f} seconds",
                hint="Run `polaris login` again and finish logging in in the browser.",
            )
        assert self._server.result is not None
        return dict(self._server.result)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackCallbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------- token endpoints
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
            f"{step}: the token endpoint failed", status_code=response.status_code, method="POST", url=url
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("error"):
        raise TokenExchangeError(
            f"{step} failed",
            error=str(data["error"]),
            error_description=str(data["error_description"]) if data.get("error_description") else None,
            status_code=response.status_code,
            method="POST",
            url=url,
        )
    if not 200 <= response.status_code < 300:
        raise error_for_status(response.status_code, response.content, response.headers, method="POST", url=url)
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        raise PolarisHubError(f"{step}: the token endpoint answered without an access token", method="POST", url=url)
    answered_type = data.get("token_type")
    if answered_type is not None and str(answered_type).lower() != token_type:
        raise PolarisHubError(f"{step}: unexpected token type {answered_type!r}", method="POST", url=url)
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
    token = _post_token_form(http, settings.resolved_hub_token_url, form, step="Exchanging the login for a Hub token")
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
    return _post_token_form(http, settings.resolved_hub_token_url, form, step=step, token_type="storage")


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
    token = _post_token_form(http, settings.resolved_hub_token_url, form, step="Logging in with username and password")
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


# ---------------------------------------------------------------------------------------------- authenticator
@dataclass(frozen=True)
class LoginResult:
    """What ``login`` did: who is logged in, and whether a new login happened."""

    identity: str
    already_logged_in: bool
    method: str  # "cached", "renewed" (the Hub rejected the cached token), "password" or "authorization_code"


class HubAuthenticator:
    """Owns the tokens of one Hub: loads them from the cache, logs in, renews, logs out.

    Args:
        settings: the client settings.
        cache: where tokens live (memory-only when ``cache.persist`` is false).
        http_options: httpx client options (verify, timeout, transport) for the token endpoints.
    """

    def __init__(self, settings: PolarisHubSettings, cache: TokenCache, http_options: dict[str, Any]) -> None:
        self.settings = settings
        self.cache = cache
        self._http_options = http_options
        self._http: httpx.Client | None = None
        self._lock = threading.RLock()
        self.tokens: CachedTokens = cache.load()

    def __repr__(self) -> str:
        return f"HubAuthenticator(hub_url={redact_url(self.settings.hub_url)!r}, tokens={self.tokens!r})"

    def storage_token(self, *, resource: str, scope: str) -> dict[str, Any]:
        """A fresh storage token for one artifact (renewing the Hub token first if it expired).

        Raises:
            PolarisUnauthorizedError: not logged in. TokenExchangeError: the Hub refused this artifact or scope.
        """
        hub = self.active_hub_token()
        if hub is None:
            raise PolarisUnauthorizedError("You are not logged in to the Polaris Hub")
        try:
            return exchange_for_storage_token(
                self._token_http(), self.settings, str(hub["access_token"]), resource=resource, scope=scope
            )
        except TokenExchangeError as exc:
            if exc.error != "invalid_grant":  # the artifact or scope was refused, not the Hub token
                raise
            logger.info("The Hub rejected the Hub token for a storage token; renewing it once")
            renewed = self.renew_rejected_hub_token(str(hub["access_token"]))
            if renewed is None:
                raise
        return exchange_for_storage_token(
            self._token_http(), self.settings, str(renewed["access_token"]), resource=resource, scope=scope
        )

    # -- plumbing
    def _token_http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(**self._http_options)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _save(self) -> None:
        self.cache.save(self.tokens)

    def _external_oauth(self, redirect_uri: str) -> Any:
        oauth2_client_class = load_oauth2_client_class()
        return oauth2_client_class(
            client_id=self.settings.client_id,
            token_endpoint_auth_method="none",
            redirect_uri=redirect_uri,
            scope=self.settings.scopes,
            code_challenge_method="S256",
            leeway=TOKEN_EXPIRY_LEEWAY_SECONDS,
            **self._http_options,
        )

    def _sync_from_cache(self) -> None:
        """Adopt what the cache holds now: another process may have renewed the tokens (or rotated the refresh
        token, which makes ours useless). Call with the cache lock held."""
        if not self.cache.persist:
            return
        disk = self.cache.load()
        if disk.external_token is not None or disk.hub_token is not None:
            self.tokens = disk

    # -- external token
    def _refresh_external(self, token: dict[str, Any]) -> dict[str, Any] | None:
        if not token.get("refresh_token"):
            return None
        from authlib.integrations.base_client import OAuthError

        with self._external_oauth(self.settings.resolved_callback_url) as oauth:
            try:
                new = oauth.refresh_token(
                    self.settings.token_fetch_url, refresh_token=token["refresh_token"], scope=self.settings.scopes
                )
            except (OAuthError, httpx.HTTPError, ValueError) as exc:
                logger.info("Refreshing the identity provider's token failed (%s)", type(exc).__name__)
                return None
        refreshed = with_expires_at(dict(new))
        refreshed.setdefault("refresh_token", token["refresh_token"])
        return refreshed

    def active_external_token(self, *, force_refresh: bool = False) -> dict[str, Any] | None:
        """The identity provider's token, refreshed if it expired and can be; ``None`` when unusable.

        The refresh runs under the cache lock after re-reading the cache, so processes sharing a cache refresh once
        and all pick up the rotated refresh token. ``force_refresh`` refreshes even an unexpired token (one the Hub
        refused) unless another process already replaced it.
        """
        with self._lock:
            token = self.tokens.external_token
            if token is None:
                return None
            if not force_refresh and not is_expired(token):
                return token
            with self.cache.locked():
                self._sync_from_cache()
                current = self.tokens.external_token
                if current is None:
                    return None
                replaced = current.get("access_token") != token.get("access_token")
                if not is_expired(current) and (replaced or not force_refresh):
                    return current  # another process refreshed it meanwhile
                refreshed = self._refresh_external(current)
                if refreshed is None:
                    return None
                self.tokens = CachedTokens(refreshed, self.tokens.hub_token, self.tokens.identity)
                self._save()
                return refreshed

    # -- Hub token
    def _new_hub_token(self) -> dict[str, Any] | None:
        """Password grant, or exchange of the external token (refreshed once more if the Hub refuses it)."""
        if self.settings.uses_password_grant:
            return password_grant(self._token_http(), self.settings)
        external = self.active_external_token()
        if external is None:
            return None
        try:
            return exchange_for_hub_token(self._token_http(), self.settings, external["access_token"])
        except TokenExchangeError as exc:
            if exc.error != "invalid_grant":
                raise
            logger.info("The Hub refused the identity provider's token; refreshing it once")
            refreshed = self.active_external_token(force_refresh=True)
            if refreshed is None or refreshed.get("access_token") == external.get("access_token"):
                raise
            return exchange_for_hub_token(self._token_http(), self.settings, refreshed["access_token"])

    def _store_hub_token(self, hub: dict[str, Any]) -> dict[str, Any]:
        logger.info("Obtained a new Hub token")
        self.tokens = CachedTokens(self.tokens.external_token, hub, self.tokens.identity)
        self._save()
        return hub

    def renew_hub_token(self) -> dict[str, Any] | None:
        """A fresh Hub token from the password or the external token, or ``None`` if neither works.

        Raises:
            HubConnectionError, HubServerError, TokenExchangeError: the token endpoint failed.
            UnsafeCacheError: the token cache is not private.
        """
        with self._lock, self.cache.locked():
            self._sync_from_cache()
            hub = self._new_hub_token()
            return None if hub is None else self._store_hub_token(hub)

    def renew_rejected_hub_token(self, rejected_access_token: str) -> dict[str, Any] | None:
        """After the Hub answered 401 to ``rejected_access_token``: a new Hub token, or ``None`` if none can be had.

        If another process already replaced the rejected token in the cache, that one is used instead.

        Raises: see :meth:`renew_hub_token`.
        """
        with self._lock, self.cache.locked():
            self._sync_from_cache()
            current = self.tokens.hub_token
            if current is not None and current.get("access_token") != rejected_access_token and not is_expired(current):
                return current
            hub = self._new_hub_token()
            return None if hub is None else self._store_hub_token(hub)

    def active_hub_token(self) -> dict[str, Any] | None:
        """The Hub token, renewed without asking the user when it expired; ``None`` if that is impossible.

        Raises:
            HubConnectionError, HubServerError, TokenExchangeError: renewing failed.
        """
        with self._lock:
            token = self.tokens.hub_token
            if token is not None and not is_expired(token):
                return token
            with self.cache.locked():
                self._sync_from_cache()
                token = self.tokens.hub_token
                if token is not None and not is_expired(token):
                    return token  # another process renewed it
                if token is None and not self.settings.uses_password_grant and self.tokens.external_token is None:
                    return None
                hub = self._new_hub_token()
                return None if hub is None else self._store_hub_token(hub)

    # -- identity
    def identity(self) -> str:
        """Who is logged in: e-mail or user name from the identity provider, or the password-grant user."""
        claims = self.tokens.identity or {}
        for key in ("email", "preferred_username", "name", "username", "sub"):
            if claims.get(key):
                return str(claims[key])
        if self.settings.uses_password_grant and self.settings.username:
            return self.settings.username
        return "an unknown user"

    def _fetch_identity(self, external: dict[str, Any]) -> dict[str, Any]:
        # The generated operation's path is /oauth/userinfo: the base is whatever comes before it (an identity
        # provider may live under a path prefix). Any other URL is fetched as given (see fetch_user_info).
        url = self.settings.user_info_url
        parts = urlsplit(url)
        prefix = parts.path[: -len(USER_INFO_PATH)] if parts.path.endswith(USER_INFO_PATH) else ""
        options = dict(self._http_options)
        options["base_url"] = urlunsplit((parts.scheme, parts.netloc, prefix, "", ""))
        options["headers"] = {"authorization": f"Bearer {external['access_token']}"}
        with httpx.Client(**options) as http:
            claims = fetch_user_info(http, user_info_url=self.settings.user_info_url)
        return {k: claims[k] for k in ("sub", "email", "name", "preferred_username") if claims.get(k)}

    # -- login / logout
    def login(self, *, overwrite: bool = False, ui: LoginUI, probe: Callable[[], object] | None = None) -> LoginResult:
        """Log in (see :meth:`polaris.hub.client.PolarisHubClient.login`).

        ``probe`` makes one authenticated Hub request: a cached login counts only when the Hub accepts it (a 401
        that cannot be cured by renewing the token means logging in again; an unreachable Hub keeps the cache).
        """
        with self._lock:
            if not overwrite:
                with self.cache.locked():
                    self._sync_from_cache()  # another process may have logged in meanwhile
            if not overwrite and self.tokens.hub_token is not None:
                try:
                    active = self.active_hub_token()
                except PolarisError as exc:
                    logger.info("Cached login unusable (%s); logging in again", type(exc).__name__)
                    active = None
                if active is not None and probe is not None:
                    try:
                        probe()
                    except PolarisUnauthorizedError:
                        logger.info("The Hub rejected the cached login and it could not be renewed; logging in again")
                        active = None
                    except PolarisError as exc:  # offline or failing Hub: the cached login may still be fine
                        logger.info("Could not check the cached login with the Hub (%s)", type(exc).__name__)
                    else:
                        renewed = self.tokens.hub_token
                        if renewed is not None and renewed.get("access_token") != active.get("access_token"):
                            who = self.identity()
                            logger.info("Renewed the login to %s as %s (the Hub rejected the cached token)",
                                        redact_url(self.settings.hub_url), who)  # fmt: skip
                            return LoginResult(identity=who, already_logged_in=False, method="renewed")
                if active is not None:
                    who = self.identity()
                    logger.info("You are already logged in to %s as %s", redact_url(self.settings.hub_url), who)
                    return LoginResult(identity=who, already_logged_in=True, method="cached")
            if self.settings.uses_password_grant:
                hub = password_grant(self._token_http(), self.settings)
                identity = {"preferred_username": self.settings.username}
                self.tokens = CachedTokens(None, hub, identity)
                method = "password"
            else:
                external = self._authorization_code_login(ui)
                hub = exchange_for_hub_token(self._token_http(), self.settings, external["access_token"])
                try:
                    identity = self._fetch_identity(external)
                except PolarisHubError as exc:
                    logger.warning("Could not read your user information: %s", exc.message)
                    identity = {}
                self.tokens = CachedTokens(external, hub, identity)
                method = "authorization_code"
            with self.cache.locked():
                self._save()
            who = self.identity()
            logger.info("Logged in to %s as %s", redact_url(self.settings.hub_url), who)
            return LoginResult(identity=who, already_logged_in=False, method=method)

    def _authorization_code_login(self, ui: LoginUI) -> dict[str, Any]:
        from authlib.common.security import generate_token
        from authlib.integrations.base_client import OAuthError

        verifier = generate_token(PKCE_VERIFIER_LENGTH)
        settings = self.settings
        server: LoopbackCallbackServer | None = None
        try:
            if settings.catches_callback_locally:
                server = LoopbackCallbackServer(settings.resolved_callback_url)
                redirect_uri = server.redirect_uri
            else:
                redirect_uri = settings.resolved_callback_url
            with self._external_oauth(redirect_uri) as oauth:
                url, state = oauth.create_authorization_url(settings.authorize_url, code_verifier=verifier)
                ui.open_url(url)
                if server is not None:
                    params = server.wait()
                    if params.get("error"):
                        raise TokenExchangeError(
                            "The identity provider refused the login",
                            error=params["error"],
                            error_description=params.get("error_description"),
                        )
                    if params.get("state") != state:
                        raise PolarisUnauthorizedError(
                            "Login aborted: the callback's state does not match this login (possible forgery)",
                            hint="Run `polaris login` again and use the link it prints.",
                        )
                    code = params.get("code", "")
                else:
                    code = ui.ask_code().strip()
                if not code:
                    raise PolarisUnauthorizedError("Login aborted: no authorization code was given")
                try:
                    token = oauth.fetch_token(
                        settings.token_fetch_url, code=code, code_verifier=verifier, redirect_uri=redirect_uri
                    )
                except OAuthError as exc:
                    raise TokenExchangeError(
                        "The identity provider gave no token",
                        error=exc.error,
                        error_description=exc.description,
                        url=settings.token_fetch_url,
                    ) from None
                except httpx.HTTPStatusError as exc:
                    raise HubServerError(
                        "The identity provider's token endpoint failed",
                        status_code=exc.response.status_code,
                        url=settings.token_fetch_url,
                    ) from None
                except httpx.TransportError as exc:
                    raise connection_error(exc, method="POST", url=settings.token_fetch_url) from None
        finally:
            if server is not None:
                server.close()
        return with_expires_at(dict(token))

    def _revoke_all(self, tokens: CachedTokens) -> None:
        """Best-effort RFC 7009 revocation of what a logout forgets (see :func:`revoke_token`).

        The Hub token goes to ``settings.resolved_revoke_url``; the identity provider's tokens go there only when that
        URL is on the identity provider's own origin (they are never handed to another party).
        """
        url = self.settings.resolved_revoke_url
        opened_here = self._http is None  # e.g. a logout after close(): do not leave a client open
        http = self._token_http()
        try:
            if tokens.hub_token and tokens.hub_token.get("access_token"):
                revoke_token(http, url, str(tokens.hub_token["access_token"]), hint="access_token")
            external = tokens.external_token or {}
            if external and _origin(url) == _origin(self.settings.token_fetch_url):
                for hint in ("refresh_token", "access_token"):
                    if external.get(hint):
                        revoke_token(http, url, str(external[hint]), hint=hint, client_id=self.settings.client_id)
        finally:
            if opened_here:
                self.close()

    def logout(self, *, revoke: bool = True) -> bool:
        """Forget every token of this Hub, revoking them first (best effort). Returns whether a cache file was removed.

        Raises:
            UnsafeCacheError: the token cache is not private (nothing is read or removed there).
        """
        with self._lock, self.cache.locked():
            self._sync_from_cache()
            tokens, self.tokens = self.tokens, CachedTokens()
            removed = self.cache.clear()
        if revoke:
            self._revoke_all(tokens)
        return removed

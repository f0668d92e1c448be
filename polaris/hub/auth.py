"""Logging in to the Polaris Hub and keeping the Hub token fresh.

Three token layers (see the Hub protocol): the identity provider's token (authorization code + PKCE S256),
the Hub token (RFC 8693 exchange of the former, or the password grant), and storage tokens (not here).

The token endpoints are driven with a plain httpx client (not the authenticated one): an OAuth2 client
would try to sign its own token request. They live in :mod:`polaris.hub._oauth_grants`, the browser side of a login
(URL shown, code read, loopback callback) in :mod:`polaris.hub._login_ui`; :class:`ConsoleLoginUI` and
:class:`LoginUI` are re-exported here, their documented path.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from polaris.errors import (
    CachedLoginError,
    HubServerError,
    IdentityProviderUnknownError,
    NotAPolarisHubError,
    PolarisError,
    PolarisHubError,
    PolarisUnauthorizedError,
    TokenExchangeError,
)
from polaris.hub._login_ui import ConsoleLoginUI as ConsoleLoginUI
from polaris.hub._login_ui import LoginUI as LoginUI
from polaris.hub._login_ui import LoopbackCallbackServer
from polaris.hub._oauth_grants import (
    exchange_for_hub_token,
    exchange_for_storage_token,
    password_grant,
    revoke_token,
)
from polaris.hub.redact import redact_url
from polaris.hub.token_cache import CachedTokens, TokenCache, with_expires_at
from polaris.hub.wire import connection_error, fetch_user_info

if TYPE_CHECKING:
    from polaris.hub.settings import PolarisHubSettings

__all__ = [
    "PKCE_VERIFIER_LENGTH",
    "TOKEN_EXPIRY_LEEWAY_SECONDS",
    "ConsoleLoginUI",
    "HubAuthenticator",
    "LoginResult",
    "LoginUI",
    "load_oauth2_client_class",
]

logger = logging.getLogger(__name__)

#: Length of the PKCE code verifier (RFC 7636 allows 43-128).
PKCE_VERIFIER_LENGTH = 48
#: A token is treated as expired this many seconds before its ``expires_at``.
TOKEN_EXPIRY_LEEWAY_SECONDS = 30
#: For tokens living shorter than the leeway, this fraction of their lifetime is used instead.
SHORT_TOKEN_LEEWAY_FRACTION = 0.25

#: Path of the generated user-info operation (relative to the identity provider's base URL).
USER_INFO_PATH = "/oauth/userinfo"
#: Where a Hub says which identity provider it uses (served by the local Hub; the real Hub's values are defaults).
DISCOVERY_PATH = "/.well-known/polaris-hub"
#: The settings a user must give when a Hub cannot tell its identity provider.
IDP_VARIABLES = ["POLARIS_AUTHORIZE_URL", "POLARIS_TOKEN_FETCH_URL", "POLARIS_USER_INFO_URL", "POLARIS_CLIENT_ID"]


def not_logged_in(settings: PolarisHubSettings) -> PolarisUnauthorizedError:
    """The error for "no login at all" (names the Hub)."""
    hub = redact_url(settings.hub_url)
    return PolarisUnauthorizedError(
        f"You are not logged in to the Polaris Hub at {hub}",
        hint=f"Log in with `polaris login --hub-url {hub}` (or client.login()).",
    )


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
        self._idp_known = not settings.idp_needs_discovery
        self._accepted_token: str | None = None  # the Hub token the Hub last answered without a 401
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
            raise not_logged_in(self.settings)
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

    # -- identity provider of another Hub
    def ensure_identity_provider(self) -> None:
        """Learn the identity provider from the Hub's discovery document when ``hub_url`` is another Hub and the
        identity-provider settings are the real Hub's defaults (never silently log in elsewhere).

        Raises:
            IdentityProviderUnknownError: the Hub has no usable discovery document (names the variables to set).
            NotAPolarisHubError: the URL answers, but not as a Hub does. HubConnectionError: it does not answer.
        """
        if self._idp_known:
            return
        settings = self.settings
        hub = redact_url(settings.hub_url)
        url = urljoin(settings.hub_url, DISCOVERY_PATH)
        try:
            response = self._token_http().get(url, headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            raise connection_error(exc, method="GET", url=url) from None
        try:
            data = response.json() if response.status_code == 200 else None
        except ValueError:
            data = None
        if response.status_code == 200 and not isinstance(data, dict):
            raise NotAPolarisHubError(
                f"{hub} answered GET {DISCOVERY_PATH} with something that is not a Polaris Hub discovery document, "
                "so its identity provider is unknown",
                status_code=response.status_code,
                method="GET",
                url=url,
            )
        if not isinstance(data, dict):
            raise IdentityProviderUnknownError(
                f"{hub} is not the default Polaris Hub and does not say which identity provider it uses "
                f"(GET {url} answered HTTP {response.status_code}); the default Hub's identity provider is not used "
                "for it",
                hub_url=hub,
                variables=IDP_VARIABLES,
            )
        try:
            settings.apply_discovery(data)
        except ValueError as exc:
            raise IdentityProviderUnknownError(
                f"The discovery document of {hub} ({url}) is not usable: {exc}", hub_url=hub, variables=IDP_VARIABLES
            ) from None
        self._idp_known = True
        logger.info("Using the identity provider %s named by the Hub at %s", redact_url(settings.authorize_url), hub)

    # -- external token
    def _refresh_external(self, token: dict[str, Any]) -> dict[str, Any] | None:
        if not token.get("refresh_token"):
            return None
        from authlib.integrations.base_client import OAuthError

        self.ensure_identity_provider()

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
        """The Hub token, renewed without asking the user when it expired; ``None`` when there is no login at all.

        A login that exists but cannot be used (an unreadable cache file, or an expired login that nothing can
        renew) raises instead: requests must not silently go out anonymously.

        Raises:
            CachedLoginError: the cached login is unreadable, or expired and cannot be renewed.
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
                    self._raise_if_cache_broken()
                    return None
                hub = self._new_hub_token()
                if hub is None:
                    raise self._expired_login(token)
                return self._store_hub_token(hub)

    def _raise_if_cache_broken(self) -> None:
        problem = self.tokens.problem
        if problem is None:
            return
        hub = redact_url(self.settings.hub_url)
        raise CachedLoginError(
            f"The cached login for the Polaris Hub at {hub} cannot be used: {problem} ({self.cache.path}); "
            "nothing was sent anonymously in its place",
            hub_url=hub,
            path=str(self.cache.path),
        )

    def _expired_login(self, token: dict[str, Any] | None) -> CachedLoginError:
        hub = redact_url(self.settings.hub_url)
        when = ""
        expires_at = (token or {}).get("expires_at")
        if isinstance(expires_at, int | float):
            when = " at " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(expires_at)))
        return CachedLoginError(
            f"Your login to the Polaris Hub at {hub} expired{when} and cannot be renewed (no refreshable login "
            "or password); nothing was sent anonymously in its place",
            hub_url=hub,
            path=str(self.cache.path) if self.cache.persist else None,
        )

    # -- identity
    def note_answer(self, sent: httpx.Request, status: int) -> None:
        """Remember that the Hub answered ``status`` to a request carrying one of our Hub tokens."""
        scheme, _, value = sent.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value and status < 400 and status != 401:
            self._accepted_token = value

    def _hub_accepted_current_token(self) -> bool:
        current = (self.tokens.hub_token or {}).get("access_token")
        return bool(current) and current == getattr(self, "_accepted_token", None)

    def check_with_hub(self, probe: Callable[[], object]) -> None:
        """Run ``probe`` (one authenticated Hub request): the cached login counts only when the Hub accepts it.

        No request is made when the Hub already answered a request carrying the current Hub token.

        Raises:
            PolarisUnauthorizedError: the Hub refused the login (after one renewal attempt), naming the Hub.
            HubConnectionError, HubServerError: the Hub could not be asked.
        """
        if self._hub_accepted_current_token():
            return
        try:
            probe()
        except PolarisUnauthorizedError as exc:
            hub = redact_url(self.settings.hub_url)
            raise PolarisUnauthorizedError(
                f"The Polaris Hub at {hub} refused your login and it could not be renewed",
                status_code=exc.status_code,
                hub_message=exc.hub_message,
                method=exc.method,
                url=exc.url,
                hint=f"Log in again with `polaris login --overwrite --hub-url {hub}`.",
            ) from None

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

        self.ensure_identity_provider()
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
                            f"The identity provider refused the login to {redact_url(settings.hub_url)}",
                            error=params["error"],
                            error_description=params.get("error_description"),
                        )
                    if params.get("state") != state:
                        raise PolarisUnauthorizedError(
                            f"Login to {redact_url(settings.hub_url)} aborted: the callback's state does not match "
                            "this login (possible forgery)",
                            hint="Run `polaris login` again and use the link it prints.",
                        )
                    code = params.get("code", "")
                else:
                    code = ui.ask_code().strip()
                if not code:
                    raise PolarisUnauthorizedError(
                        f"Login to {redact_url(settings.hub_url)} aborted: no authorization code was given"
                    )
                try:
                    token = oauth.fetch_token(
                        settings.token_fetch_url, code=code, code_verifier=verifier, redirect_uri=redirect_uri
                    )
                except OAuthError as exc:
                    raise TokenExchangeError(
                        f"The identity provider gave no token for the login to {redact_url(settings.hub_url)}",
                        error=exc.error,
                        error_description=exc.description,
                        url=settings.token_fetch_url,
                    ) from None
                except httpx.HTTPStatusError as exc:
                    raise HubServerError(
                        f"The identity provider's token endpoint failed during the login to "
                        f"{redact_url(settings.hub_url)}",
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
        if not self.settings.may_receive_token(url):
            logger.warning(
                "Not revoking at %s: it is not on the origin of the Hub %s (POLARIS_REVOKE_URL)",
                redact_url(url),
                redact_url(self.settings.hub_url),
            )
            return
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

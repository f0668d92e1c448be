"""What makes :class:`~polaris.hub.client.PolarisHubClient` an httpx client of the Hub: the HTTP side.

:class:`HubHTTPClient` is an authlib ``OAuth2Client`` (so an ``httpx.Client``) that holds the transports (retrying
by default), the token handling (renewed silently; a 401 to our Hub token renews it once and resends), the refusals
(a closed client, offline mode: no socket is ever opened) and the wire built on those connections. The documented
methods live in :mod:`polaris.hub.client`; they hand off to the artifact objects of :mod:`polaris.hub.flows`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from polaris.errors import (
    CABundleNotFoundError,
    ClientClosedError,
    OfflineError,
    PolarisError,
)
from polaris.hub import arguments
from polaris.hub._transport import RetryTransport
from polaris.hub.auth import HubAuthenticator, load_oauth2_client_class, not_logged_in
from polaris.hub.redact import install_log_redaction, mask_secret
from polaris.hub.settings import PolarisHubSettings
from polaris.hub.token_cache import TokenCache
from polaris.types import TimeoutTypes

if TYPE_CHECKING:
    from polaris_hub_api import AuthenticatedClient

    from polaris.hub.wire import Wire

    _OAuth2ClientBase = httpx.Client
    _OAuth2Token = dict
else:
    _OAuth2ClientBase = load_oauth2_client_class()
    from authlib.oauth2.rfc6749 import OAuth2Token as _OAuth2Token

__all__ = ["HubHTTPClient", "MaskedToken"]

logger = logging.getLogger(__name__)

_SECRET_TOKEN_FIELDS = frozenset({"access_token", "refresh_token", "id_token"})


class MaskedToken(_OAuth2Token):  # type: ignore[type-arg]
    """authlib's ``OAuth2Token`` (a dict: every key and value still there) whose repr shows ``***`` + last 4 only."""

    def __repr__(self) -> str:
        shown = {k: mask_secret(str(v)) if k in _SECRET_TOKEN_FIELDS and v else v for k, v in self.items()}
        return f"{type(self).__name__}({shown!r})"

    __str__ = __repr__


def _masked(token: Any) -> Any:
    """``token`` as a :class:`MaskedToken` (``None`` and non-dicts unchanged)."""
    if isinstance(token, dict) and not isinstance(token, MaskedToken):
        return MaskedToken(dict(token))
    return token


class _OfflineTransport(httpx.BaseTransport):
    """The transport of a client in offline mode: every request is refused before any socket is opened."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise OfflineError(
            f"Offline mode is on: {request.method} {request.url.path} needs the Hub, and no request was sent"
        )


class HubHTTPClient(_OAuth2ClientBase):
    """The HTTP side of a Hub client (arguments: see :class:`~polaris.hub.client.PolarisHubClient`)."""

    def __init__(
        self, settings: PolarisHubSettings | str | None = None, cache_auth_token: bool = True, **kwargs: Any
    ) -> None:
        given = arguments.client_settings(settings)
        install_log_redaction()  # again: loggers created since import (botocore...) get the filter too
        self.settings = given if given is not None else PolarisHubSettings()
        verify = kwargs.pop("verify", None)
        if verify is None:
            try:
                verify = self.settings.httpx_verify()
            except FileNotFoundError as exc:
                raise CABundleNotFoundError(
                    f"POLARIS_CA_BUNDLE (ca_bundle) names a missing file or folder: {self.settings.ca_bundle}"
                ) from exc
        timeout = kwargs.pop("timeout", None) or self.settings.httpx_timeout()
        transport = kwargs.pop("transport", None)
        if transport is None:
            transport = RetryTransport(httpx.HTTPTransport(verify=verify))
        token_http_options: dict[str, Any] = {
            "verify": verify,
            "timeout": timeout,
            "transport": RetryTransport(httpx.HTTPTransport(verify=verify)),
        }
        self._authenticator = HubAuthenticator(
            self.settings, TokenCache(self.settings.hub_url, persist=cache_auth_token), token_http_options
        )
        self._wire_instance: Wire | None = None
        # reads without a login go through a client that has no credentials at all
        self._anonymous_options: dict[str, Any] = {"timeout": timeout, "verify": verify, "transport": transport}
        self._anonymous_http: httpx.Client | None = None
        #: Show byte-level progress during transfers (default from POLARIS_PROGRESS; see polaris.progress).
        self.show_progress = self.settings.progress
        #: Called by :meth:`close` (what was built on this client and holds connections of its own).
        self._on_close: list[Callable[[], None]] = []
        kwargs.setdefault("base_url", self.settings.resolved_api_url)
        super().__init__(  # type: ignore[call-arg]
            token=_masked(self._authenticator.tokens.hub_token),
            timeout=timeout,
            transport=transport,
            **kwargs,
        )

    @property
    def token(self) -> Any:
        """The Hub token in use (authlib's ``OAuth2Token`` dict; its repr shows ``***`` + the last 4 characters)."""
        return self.token_auth.token  # type: ignore[attr-defined]

    @token.setter
    def token(self, value: Any) -> None:
        self.token_auth.set_token(_masked(value))  # type: ignore[attr-defined]

    def __del__(self) -> None:
        # authlib's __del__ assumes __init__ ran to its end; a client whose __init__ raised (bad settings, an unsafe
        # token cache) holds nothing to release.
        if "session" not in vars(self):
            return
        parent_del = getattr(super(), "__del__", None)
        if parent_del is not None:
            with contextlib.suppress(Exception):
                parent_del()

    # ------------------------------------------------------------------ refusals
    @property
    def offline(self) -> bool:
        """True when no request may be sent (``POLARIS_OFFLINE=1``); artifacts then come from the local cache."""
        return bool(self.settings.offline)

    def _refuse_offline(self, what: str) -> None:
        if self.offline:
            raise OfflineError(f"Offline mode is on: {what} needs the Hub, and no request was sent")

    def _check_open(self) -> None:
        if self.is_closed:
            raise ClientClosedError("This PolarisHubClient has been closed")

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the connections (safe to call twice). The client cannot be used afterwards."""
        self._authenticator.close()
        if self._anonymous_http is not None:
            self._anonymous_http.close()
        for release in self._on_close:
            release()
        super().close()

    @property
    def is_logged_in(self) -> bool:
        """True when a Hub token is held (it may still need a silent renewal)."""
        return self._authenticator.tokens.hub_token is not None

    # ------------------------------------------------------------------ authlib hooks
    def ensure_active_token(self, token: Any = None) -> bool:
        """Make the Hub token usable: renew it from the external token or the password if it expired.

        Returns ``False`` when no usable token can be had (authlib then refuses the request). Offline, nothing is
        renewed: the answer is whether a token is held.
        """
        if self.offline:
            return self.is_logged_in
        hub = self._authenticator.active_hub_token()
        if hub is None:
            return False
        current = self.token
        if current is None or current.get("access_token") != hub.get("access_token"):
            self.token = hub
        return True

    def _authenticate(self, withhold_token: bool, auth: Any) -> None:
        self._check_open()
        self._refuse_offline("this request")
        if withhold_token or auth is not httpx.USE_CLIENT_DEFAULT:
            return
        if not self.ensure_active_token():
            raise not_logged_in(self.settings)

    def request(
        self,
        method: str,
        url: httpx.URL | str,
        withhold_token: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        **kwargs: Any,
    ) -> httpx.Response:
        """An httpx request carrying the Hub token (``withhold_token=True`` sends none).

        Raises:
            ClientClosedError: the client was closed.
            PolarisUnauthorizedError: no usable Hub token.
            httpx.HTTPError: transport failures (the typed funnel lives in the high-level methods).
        """
        self._authenticate(withhold_token, auth)
        return super().request(method, url, withhold_token=withhold_token, auth=auth, **kwargs)  # type: ignore[call-arg]

    def stream(
        self,
        method: str,
        url: httpx.URL | str,
        withhold_token: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        **kwargs: Any,
    ) -> Any:
        """Like :meth:`request`, streaming the response body."""
        self._authenticate(withhold_token, auth)
        return super().stream(method, url, withhold_token=withhold_token, auth=auth, **kwargs)  # type: ignore[call-arg]

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        """Send a request; a 401 to the Hub token it carried renews that token once and resends the request."""
        self._check_open()
        self._refuse_offline(f"{request.method} {request.url.path}")
        if kwargs.get("auth") is getattr(self, "token_auth", None):  # the Hub token goes only where the Hub is
            self.settings.check_token_destination(str(request.url))
        response = super().send(request, **kwargs)
        self._authenticator.note_answer(response.request, response.status_code)  # lets whoami skip its probe
        if response.status_code != 401:
            return response
        rejected = self._rejected_hub_token(response.request, request)
        if rejected is None:
            return response
        try:
            renewed = self._authenticator.renew_rejected_hub_token(rejected)
        except PolarisError as exc:
            logger.info("The Hub rejected the Hub token and renewing it failed: %s", exc.message)
            return response
        if renewed is None:
            logger.info("The Hub rejected the Hub token, and no password or refreshable login can renew it")
            return response
        logger.info("The Hub rejected the Hub token; renewed it once and sending the request again")
        response.close()
        self.token = renewed
        request.headers["Authorization"] = f"Bearer {renewed['access_token']}"
        return super().send(request, **kwargs)

    def _rejected_hub_token(self, sent: httpx.Request, request: httpx.Request) -> str | None:
        """The Hub token ``sent`` carried, when its 401 may be cured by renewing it (and ``request`` can be resent).

        ``sent`` is what went on the wire (authlib's auth flow builds it from ``request``).
        """
        scheme, _, value = sent.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value:
            return None
        hub = self._authenticator.tokens.hub_token
        held = self.token
        known = {str(t.get("access_token")) for t in (hub, held) if t}
        if value not in known:
            return None  # a token the caller set by hand, or one for another service
        try:
            request.read()  # bytes bodies can be sent again; a consumed stream cannot
        except httpx.StreamConsumed:
            return None
        return str(value)

    # ------------------------------------------------------------------ the wire
    @property
    def _wire(self) -> Wire:
        """Every Hub operation, on this client's connections (and a credential-free one for anonymous reads)."""
        if self._wire_instance is None:
            from polaris.hub.wire import Wire

            options = self._anonymous_options
            own_transport = options["transport"]
            if self.offline:  # anonymous reads must not reach the network either
                own_transport = _OfflineTransport()
            self._anonymous_http = httpx.Client(
                base_url=self.settings.resolved_api_url,
                timeout=options["timeout"],
                transport=own_transport
                if own_transport is not None
                else RetryTransport(httpx.HTTPTransport(verify=options["verify"])),
            )
            self._wire_instance = Wire(
                self,
                self.settings.resolved_api_url,
                anonymous_http=self._anonymous_http,
                has_token=self.ensure_active_token,
            )
        return self._wire_instance

    @property
    def api(self) -> AuthenticatedClient:
        """The generated ``polaris_hub_api`` client, sharing this authenticated connection.

        Call any generated endpoint with it, e.g. ``list_datasets_v1.sync_detailed(client=client.api)``.
        """
        self._check_open()
        return self._wire.core.api

    @contextlib.contextmanager
    def _timeout_for(self, timeout: TimeoutTypes) -> Iterator[tuple[float, float] | None]:
        """Apply ``timeout`` to this client's Hub requests for the duration of one call; yields it for storage."""
        from polaris.hub.settings import LIBRARY_DEFAULT_TIMEOUT

        if timeout == "never":
            new, pair = httpx.Timeout(None), None
        elif timeout == "timeout":
            new, pair = httpx.Timeout(LIBRARY_DEFAULT_TIMEOUT), (LIBRARY_DEFAULT_TIMEOUT, LIBRARY_DEFAULT_TIMEOUT)
        else:
            if not (isinstance(timeout, tuple | list) and len(timeout) == 2):
                raise TypeError(f"timeout must be (connect, read) seconds, 'timeout' or 'never', not {timeout!r}")
            connect, read = (float(v) for v in timeout)
            new, pair = httpx.Timeout(read, connect=connect, read=read, write=read, pool=read), (connect, read)
        previous = self.timeout
        self.timeout = new
        try:
            yield pair
        finally:
            self.timeout = previous

"""``PolarisHubClient``: the documented entry point to the Polaris Hub.

It *is* an httpx client (an authlib ``OAuth2Client``): every request carries the Hub token, renewed
without asking the user when it expires. ``client.api`` is the generated client sharing that connection,
for power users who want to call any endpoint directly.

Importing this module stays cheap: no pandas, pyarrow, zarr, obstore, numpy or scikit-learn.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx

from polaris.errors import (
    CABundleNotFoundError,
    ClientClosedError,
    NotCachedError,
    OfflineError,
    PolarisError,
    SettingsError,
)
from polaris.hub import arguments
from polaris.hub._client_listings import DEFAULT_PAGE_SIZE as DEFAULT_PAGE_SIZE
from polaris.hub._client_listings import MAX_PAGES as MAX_PAGES
from polaris.hub._client_listings import HubListingsMixin
from polaris.hub._client_v2 import HubGenerationsMixin
from polaris.hub._transport import RetryTransport
from polaris.hub.auth import (
    ConsoleLoginUI,
    HubAuthenticator,
    LoginResult,
    LoginUI,
    load_oauth2_client_class,
    not_logged_in,
)
from polaris.hub.redact import install_log_redaction, mask_secret, redact_url
from polaris.hub.settings import PolarisHubSettings
from polaris.hub.token_cache import TokenCache
from polaris.types import (
    AccessType,
    ChecksumStrategy,
    HubOwner,
    TimeoutTypes,
    ZarrConflictResolution,
    split_artifact_id,
)

if TYPE_CHECKING:
    from polaris_hub_api import AuthenticatedClient

    from polaris.artifacts import (
        BenchmarkResults,
        BenchmarkSpecification,
        BenchmarkV2Specification,
        CompetitionResults,
        CompetitionSpecification,
        DatasetV1,
        DatasetV2,
        Model,
    )
    from polaris.artifacts.competition import CompetitionPredictions
    from polaris.hub._wire import Wire
    from polaris.hub.artifact_io_v2 import ArtifactIOV2

    _OAuth2ClientBase = httpx.Client
    _OAuth2Token = dict
else:
    _OAuth2ClientBase = load_oauth2_client_class()
    from authlib.oauth2.rfc6749 import OAuth2Token as _OAuth2Token

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGES", "PolarisHubClient"]

logger = logging.getLogger(__name__)
# Secrets never reach a log line: the client's loggers and those of the HTTP stacks get a redacting filter.
install_log_redaction()


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


class PolarisHubClient(HubListingsMixin, HubGenerationsMixin, _OAuth2ClientBase):
    """A client of one Polaris Hub.

    Args:
        settings: where the Hub is and how to log in (default: read from ``POLARIS_*`` and ``.env``); a Hub URL
            string is taken as ``PolarisHubSettings(hub_url=...)``.
        cache_auth_token: keep tokens in the per-Hub cache file (``False``: memory only, nothing written).
        **kwargs: passed to authlib / httpx (``headers``, ``timeout``, ``transport``, ...). A ``transport``
            you pass replaces the retrying default.

    Use it as a context manager, or call :meth:`close`. A closed client raises
    :class:`~polaris.errors.ClientClosedError`.

    Raises:
        InvalidSettingError: invalid settings read from the environment (names the variable).
        TypeError: ``settings`` is neither settings, a URL string nor a dict.
        CABundleNotFoundError: ``ca_bundle`` names a missing file (a ``FileNotFoundError`` too).

    With ``settings.offline`` (``POLARIS_OFFLINE=1``) no request is ever sent: requests raise
    :class:`~polaris.errors.OfflineError`, and ``get_*`` serve verified cached copies or raise
    :class:`~polaris.errors.NotCachedError` naming what is not cached.
    """

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
        self._artifact_io: ArtifactIOV2 | None = None
        # reads without a login go through a client that has no credentials at all
        self._anonymous_options: dict[str, Any] = {"timeout": timeout, "verify": verify, "transport": transport}
        self._anonymous_http: httpx.Client | None = None
        #: Show byte-level progress during transfers (default from POLARIS_PROGRESS; see polaris.progress).
        self.show_progress = self.settings.progress
        kwargs.setdefault("base_url", self.settings.resolved_api_url)
        super().__init__(  # type: ignore[call-arg]
            token=_masked(self._authenticator.tokens.hub_token),
            timeout=timeout,
            transport=transport,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"PolarisHubClient(hub_url={redact_url(self.settings.hub_url)!r}, logged_in={self.is_logged_in})"

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

    # ------------------------------------------------------------------ offline mode
    @property
    def offline(self) -> bool:
        """True when no request may be sent (``POLARIS_OFFLINE=1``); artifacts then come from the local cache."""
        return bool(self.settings.offline)

    def _refuse_offline(self, what: str) -> None:
        if self.offline:
            raise OfflineError(f"Offline mode is on: {what} needs the Hub, and no request was sent")

    @contextlib.contextmanager
    def _cached_only(self, kind: str, artifact: str) -> Iterator[None]:
        """Offline: turn "no request was sent" into an error naming what is not cached."""
        io_logger = logging.getLogger("polaris.hub.artifact_io")
        wording = _OfflineWording()
        if self.offline:
            io_logger.addFilter(wording)
        try:
            yield
        except OfflineError as exc:
            raise NotCachedError(
                f"Offline mode is on and the {kind} {artifact} is not in the local cache", kind=kind, artifact=artifact
            ) from exc
        finally:
            io_logger.removeFilter(wording)

    # ------------------------------------------------------------------ lifecycle
    def _check_open(self) -> None:
        if self.is_closed:
            raise ClientClosedError("This PolarisHubClient has been closed")

    def __enter__(self) -> PolarisHubClient:
        self._check_open()
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (safe to call twice). The client cannot be used afterwards."""
        self._authenticator.close()
        if self._anonymous_http is not None:
            self._anonymous_http.close()
        if self._artifact_io is not None:
            self._artifact_io.close()
        super().close()

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

    # ------------------------------------------------------------------ generated client
    @property
    def _wire(self) -> Wire:
        if self._wire_instance is None:
            from polaris.hub._wire import Wire

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
        return self._wire.api

    # ------------------------------------------------------------------ authentication
    @property
    def is_logged_in(self) -> bool:
        """True when a Hub token is held (it may still need a silent renewal)."""
        return self._authenticator.tokens.hub_token is not None

    def login(
        self, overwrite: bool = False, auto_open_browser: bool = True, *, ui: LoginUI | None = None
    ) -> LoginResult:
        """Log in to the Hub and cache the tokens.

        With ``username`` and ``password`` set, the password grant is used (no browser). Otherwise the
        identity provider's authorization-code flow with PKCE (S256) runs: the authorization URL is shown
        (and opened in a browser when ``auto_open_browser``); with a loopback ``callback_url`` the code is
        caught by a one-shot local server (state checked), else the user pastes the code from the Hub's
        callback page. The login is then exchanged (RFC 8693) for a Hub token.
        Already logged in and not ``overwrite``: the cached login is checked with one Hub request; if the Hub accepts
        it, this logs who you are and does nothing; if it rejects it, it is renewed silently when it can be (password,
        or refreshable login: ``method="renewed"``), otherwise the login runs again.

        Args:
            overwrite: log in again even if a usable login is cached.
            auto_open_browser: open the authorization URL in a browser.
            ui: how to show the URL and read a pasted code (default: the terminal).

        Raises:
            TokenExchangeError: the identity provider or the Hub refused the login.
            PolarisUnauthorizedError: the login was aborted, timed out, or its state did not match.
            HubConnectionError, HubServerError: the Hub or identity provider could not be reached or failed.
            ClientClosedError: the client was closed.
        """
        self._check_open()
        self._refuse_offline("logging in")
        _check_login_settings(self.settings)

        def probe() -> None:  # one authenticated request: does the Hub accept the cached token? (401 renews once)
            self.token = self._authenticator.tokens.hub_token
            self._wire.list_datasets(limit=1, offset=0)

        result = self._authenticator.login(
            overwrite=overwrite,
            ui=ui if ui is not None else ConsoleLoginUI(auto_open_browser=auto_open_browser),
            probe=probe,
        )
        self.token = self._authenticator.tokens.hub_token
        return result

    def logout(self) -> bool:
        """Forget this Hub's tokens (memory and cache file) after revoking them at the Hub.

        The revocation (RFC 7009 at ``settings.revoke_url``) is best effort: without an endpoint or a network the
        tokens are still forgotten. Returns whether a cache file was removed.
        """
        removed = self._authenticator.logout()
        self.token = None
        return removed

    def whoami(self) -> str:
        """Who is logged in (e-mail or user name), after the Hub accepted the login (one authenticated request).

        Offline, the cached identity is returned as it is (nothing can be checked).

        Raises:
            PolarisUnauthorizedError: not logged in, or the Hub refused the login and it could not be renewed.
            CachedLoginError: the cached login is unreadable, or expired and cannot be renewed.
            HubConnectionError, HubServerError, TokenExchangeError: the Hub could not be asked, or renewing failed.
        """
        self._check_open()
        if self.offline and self.is_logged_in:
            return self._authenticator.identity()  # as cached: renewing it would need the network
        self._refuse_offline("checking your login")
        if not self.ensure_active_token():
            raise not_logged_in(self.settings)
        self._authenticator.check_with_hub(lambda: self._wire.list_datasets(limit=1, offset=0))
        return self._authenticator.identity()

    # ------------------------------------------------------------------ helpers
    def get_metadata_from_response(self, response: httpx.Response, key: str) -> str | None:
        """The custom metadata header ``<custom_metadata_prefix><key>`` of a response, or ``None``."""
        value: str | None = response.headers.get(f"{self.settings.custom_metadata_prefix}{key}")
        return value

    # ------------------------------------------------------------------ artifacts
    @property
    def _artifacts(self) -> ArtifactIOV2:
        self._check_open()
        if self._artifact_io is None:
            from polaris.hub.artifact_io_v2 import ArtifactIOV2

            def storage_token(resource: str, scope: str) -> dict[str, Any]:
                return self._authenticator.storage_token(resource=resource, scope=scope)

            self._artifact_io = ArtifactIOV2(self._wire, storage_token, self.settings, progress=self.show_progress)
        self._artifact_io.progress = self.show_progress
        return self._artifact_io

    def get_dataset(
        self,
        owner: str | HubOwner,
        name: str | None = None,
        verify_checksum: ChecksumStrategy = "verify_unless_zarr",
        *,
        lazy: bool = False,
    ) -> DatasetV1 | DatasetV2:
        """Download a dataset (V1, else V2) into the local cache and return it.

        ``lazy=True``: return it without moving its Zarr archive; chunks are read straight from storage when
        accessed, each verified against the Hub's manifest (see ``dataset.open_remote``).

        ``get_dataset("owner", "name")`` or ``get_dataset("owner/name")``. An unchanged dataset is served from the
        cache without any transfer (and, when the Hub cannot be reached, from the newest cached copy).
        Every file is verified against the Hub's checksums while it streams; ``verify_checksum`` decides whether
        the dataset's content checksum is recomputed too (``verify``, ``verify_unless_zarr``, ``ignore``).

        Raises:
            ArtifactNotFoundError: no such dataset, or you may not see it.
            PolarisChecksumError: the data does not match the Hub's checksum (nothing is cached).
            PolarisUnauthorizedError: not logged in.
            StorageError: the object storage could not be read.
        """
        arguments.check_get("get_dataset", owner, name, verify_checksum)
        owner, name = _split(owner, name)
        with self._cached_only("dataset", f"{owner}/{name}"):
            return self._artifacts.get_dataset(owner, name, verify_checksum, lazy=lazy)

    def get_benchmark(
        self,
        owner: str | HubOwner,
        name: str | None = None,
        verify_checksum: ChecksumStrategy = "verify_unless_zarr",
    ) -> BenchmarkSpecification | BenchmarkV2Specification:
        """Download a benchmark and its dataset; its checksum is really compared when the strategy verifies.

        A V1 benchmark (``/v1/benchmark``) or, when the Hub has none of that name, a V2 benchmark on a V2 dataset
        whose training/test index sets are read as Roaring bitmaps, each verified against the Hub's md5.

        Raises:
            ArtifactNotFoundError: no such benchmark (or dataset), or you may not see it.
            PolarisChecksumError: the benchmark or its dataset does not match the Hub's checksum.
            PolarisUnauthorizedError: not logged in.
        """
        arguments.check_get("get_benchmark", owner, name, verify_checksum)
        owner, name = _split(owner, name)
        with self._cached_only("benchmark", f"{owner}/{name}"):
            return self._artifacts.get_benchmark(owner, name, verify_checksum)

    def get_competition(
        self,
        owner: str | HubOwner,
        name: str | None = None,
        verify_checksum: ChecksumStrategy = "verify_unless_zarr",
    ) -> CompetitionSpecification:
        """Download a competition and its dataset (test targets stay on the Hub).

        A 0.11+ competition (``/v1/competition``: itself a Zarr archive, returned as a
        :class:`~polaris.artifacts.ZarrCompetitionSpecification`) or, on 404, a 0.10 one (``/v2/competition``).

        Raises:
            ArtifactNotFoundError: no such competition, or you may not see it.
            PolarisChecksumError: the dataset does not match the Hub's masked checksum.
            PolarisUnauthorizedError: not logged in.
        """
        arguments.check_get("get_competition", owner, name, verify_checksum)
        owner, name = _split(owner, name)
        with self._cached_only("competition", f"{owner}/{name}"):
            return self._artifacts.get_competition(owner, name, verify_checksum)

    def upload_dataset(
        self,
        dataset: DatasetV1 | DatasetV2,
        access: AccessType = "private",
        timeout: TimeoutTypes = (10, 200),
        owner: str | HubOwner | None = None,
        if_exists: ZarrConflictResolution = "replace",
        *,
        parent_artifact_id: str | None = None,
    ) -> dict[str, Any]:
        """Upload a dataset: metadata to the Hub, table / manifest / Zarr archive to its storage.

        ``timeout``: ``(connect, read)`` seconds for every request of this upload (Hub and storage; the read
        timeout is the longest wait for the next byte, not a deadline), ``"timeout"`` (5 s) or ``"never"``.
        ``owner`` wins over ``dataset.owner``. ``if_exists`` applies to the stored objects: ``replace``
        overwrites, ``skip`` keeps objects already there whose md5 equals ours (so re-running an interrupted
        upload sends only what is missing) and refuses ones that differ, ``raise`` refuses to overwrite.
        ``parent_artifact_id`` (``owner/slug``) makes the upload a new version of that dataset (0.12 Hubs; set
        ``dataset.artifact_changelog``): the Hub answers the new version's slug, which names the storage target.
        Returns the Hub's JSON answer.

        Raises:
            LicenseRequiredError, InvalidArtifactError: refused client-side, before anything is sent.
            PolarisCreateArtifactError: you may not create artifacts for this owner.
            ArtifactExistsError: ``if_exists="raise"`` and objects exist, or ``if_exists="skip"`` and a stored
                object differs from ours (named in the message).
            PartialUploadError: part of the data was sent; its hint gives the call that completes it.
        """
        arguments.check_dataset(dataset, access, owner, if_exists)
        with self._timeout_for(timeout) as pair:
            return self._artifacts.upload_dataset(
                dataset,
                access=access,
                owner=owner,
                if_exists=if_exists,
                timeout=pair,
                parent_artifact_id=parent_artifact_id,
            )

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

    def upload_benchmark(
        self,
        benchmark: BenchmarkSpecification | BenchmarkV2Specification,
        access: AccessType = "private",
        owner: str | HubOwner | None = None,
        *,
        parent_artifact_id: str | None = None,
    ) -> dict[str, Any]:
        """Upload a benchmark; its dataset must already be on the Hub. Returns the Hub's JSON answer.

        A :class:`~polaris.artifacts.BenchmarkV2Specification` goes to ``/v2/benchmark`` and its two index sets to
        storage (``.roaring``, with ``Content-MD5``). ``parent_artifact_id`` makes the upload a new version.

        Raises:
            InvalidArtifactError: the dataset is not on the Hub, or the benchmark breaks a rule.
            PolarisCreateArtifactError: you may not create artifacts for this owner.
        """
        arguments.check_benchmark(benchmark, access, owner)
        return self._artifacts.upload_benchmark(
            benchmark, access=access, owner=owner, parent_artifact_id=parent_artifact_id
        )

    def upload_results(
        self,
        results: BenchmarkResults,
        access: AccessType = "private",
        owner: str | HubOwner | None = None,
        *,
        model: Model | str | None = None,
    ) -> BenchmarkResults:
        """Upload benchmark results (from ``benchmark.evaluate``, V1 or V2); the Hub makes you their owner.

        ``model`` (a :class:`~polaris.artifacts.Model` or ``owner/slug``) names the model behind them.

        A missing name is generated. The link where they can be seen is logged and kept in ``results.hub_url``.

        Raises:
            InvalidArtifactError: the results do not name their benchmark.
            ArtifactNotFoundError: the benchmark is not on the Hub.
            PolarisCreateArtifactError: ``owner`` is not you.
        """
        arguments.check_results(results, access, owner, model)
        uploaded, url = self._artifacts.upload_results(results, access=access, owner=owner, model=model)
        uploaded.hub_url = url
        return uploaded

    def evaluate_competition(
        self,
        competition: CompetitionSpecification | str,
        competition_predictions: CompetitionPredictions | Any,
        *,
        name: str | None = None,
        owner: str | HubOwner | None = None,
        report_url: str | None = None,
        description: str | None = None,
    ) -> CompetitionResults:
        """Send predictions to the Hub, which scores them against the hidden test labels.

        A 0.11+ competition gets them as ``POST /v1/competition-prediction`` (``name``, ``owner``, ``report_url``,
        ``description`` describe the submission; a name is generated when missing), a 0.10 one through its
        ``/evaluate`` call. Either way the scores come back as :class:`CompetitionResults`.

        ``competition_predictions`` is a :class:`CompetitionPredictions` or any prediction shape
        ``benchmark.evaluate`` accepts (a list for one target and one test set, ``{test: {target: values}}``...).

        ``competition`` may be its ``"owner/name"`` (it is then fetched with :meth:`get_competition`).

        Raises:
            InvalidPredictionsError: the predictions do not fit the competition's test sets (a ``ValueError``;
                nothing is sent).
            TypeError: ``competition`` is neither a competition nor ``"owner/name"``.
            ArtifactNotFoundError: no such competition. PolarisUnauthorizedError: not logged in.
        """
        spec, competition_predictions = arguments.competition_and_predictions(
            self, competition, competition_predictions, owner
        )
        return self._artifacts.evaluate_competition(
            spec, competition_predictions, name=name, owner=owner, report_url=report_url, description=description
        )


class _OfflineWording(logging.Filter):
    """Offline, a cached copy is used by choice: say so instead of "the Hub cannot be reached" (at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("The Hub cannot be reached; using the cached copy"):
            record.msg = "Offline mode: using the verified cached copy of %s/%s"
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


class _OfflineTransport(httpx.BaseTransport):
    """The transport of a client in offline mode: every request is refused before any socket is opened."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise OfflineError(
            f"Offline mode is on: {request.method} {request.url.path} needs the Hub, and no request was sent"
        )


def _check_login_settings(settings: PolarisHubSettings) -> None:
    """Refuse half a password login instead of silently switching to the browser."""
    has_user = bool(settings.username)
    has_password = settings.password is not None and bool(settings.password.get_secret_value())
    if has_user and not has_password:
        raise SettingsError(
            "POLARIS_USERNAME is set but POLARIS_PASSWORD is not",
            hint="Set POLARIS_PASSWORD too for the password grant, or unset POLARIS_USERNAME to log in with a browser.",
        )
    if has_password and not has_user:
        raise SettingsError(
            "POLARIS_PASSWORD is set but POLARIS_USERNAME is not",
            hint="Set POLARIS_USERNAME too for the password grant, or unset POLARIS_PASSWORD to log in with a browser.",
        )


def _split(owner: str | HubOwner, name: str | None) -> tuple[str, str]:
    """``("owner", "name")`` from ``owner, name`` or from a single ``"owner/name"``."""
    slug = owner.slug if isinstance(owner, HubOwner) else str(owner)
    if name is None:
        return split_artifact_id(slug)
    return slug, name

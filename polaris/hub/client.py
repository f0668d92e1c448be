"""``PolarisHubClient``: the documented entry point to the Polaris Hub.

It *is* an httpx client (an authlib ``OAuth2Client``): every request carries the Hub token, renewed
without asking the user when it expires. ``client.api`` is the generated client sharing that connection,
for power users who want to call any endpoint directly.

Importing this module stays cheap: no pandas, pyarrow, zarr, obstore, numpy or scikit-learn.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from polaris.errors import ClientClosedError, PolarisUnauthorizedError
from polaris.hub._transport import RetryTransport
from polaris.hub.auth import ConsoleLoginUI, HubAuthenticator, LoginResult, LoginUI, load_oauth2_client_class
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
        CompetitionResults,
        CompetitionSpecification,
        DatasetV1,
        DatasetV2,
    )
    from polaris.artifacts.competition import CompetitionPredictions
    from polaris.hub._wire import Page, Wire
    from polaris.hub.artifact_io import ArtifactIO

    _OAuth2ClientBase = httpx.Client
else:
    _OAuth2ClientBase = load_oauth2_client_class()

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGES", "PolarisHubClient"]

logger = logging.getLogger(__name__)

#: Items per request when walking a whole listing.
DEFAULT_PAGE_SIZE = 100
#: Upper bound of pages one iteration walks (a guard against a Hub that never stops paging).
MAX_PAGES = 10_000


class PolarisHubClient(_OAuth2ClientBase):
    """A client of one Polaris Hub.

    Args:
        settings: where the Hub is and how to log in (default: read from ``POLARIS_*`` and ``.env``).
        cache_auth_token: keep tokens in the per-Hub cache file (``False``: memory only, nothing written).
        **kwargs: passed to authlib / httpx (``headers``, ``timeout``, ``transport``, ...). A ``transport``
            you pass replaces the retrying default.

    Use it as a context manager, or call :meth:`close`. A closed client raises
    :class:`~polaris.errors.ClientClosedError`.

    Raises:
        pydantic.ValidationError: invalid settings read from the environment.
        FileNotFoundError: ``ca_bundle`` names a missing file.
    """

    if TYPE_CHECKING:
        token: Any

    def __init__(
        self, settings: PolarisHubSettings | None = None, cache_auth_token: bool = True, **kwargs: Any
    ) -> None:
        self.settings = settings if settings is not None else PolarisHubSettings()
        verify = kwargs.pop("verify", None)
        if verify is None:
            verify = self.settings.httpx_verify()
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
        self._artifact_io: ArtifactIO | None = None
        #: Show byte-level progress bars during transfers (set to False in scripts that log to files).
        self.show_progress = True
        kwargs.setdefault("base_url", self.settings.resolved_api_url)
        super().__init__(  # type: ignore[call-arg]
            token=self._authenticator.tokens.hub_token,
            timeout=timeout,
            transport=transport,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"PolarisHubClient(hub_url={self.settings.hub_url!r}, logged_in={self.is_logged_in})"

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
        super().close()

    # ------------------------------------------------------------------ authlib hooks
    def ensure_active_token(self, token: Any = None) -> bool:
        """Make the Hub token usable: renew it from the external token or the password if it expired.

        Returns ``False`` when no usable token can be had (authlib then refuses the request).
        """
        hub = self._authenticator.active_hub_token()
        if hub is None:
            return False
        current = self.token
        if current is None or current.get("access_token") != hub.get("access_token"):
            self.token = hub
        return True

    def _authenticate(self, withhold_token: bool, auth: Any) -> None:
        self._check_open()
        if withhold_token or auth is not httpx.USE_CLIENT_DEFAULT:
            return
        if not self.ensure_active_token():
            raise PolarisUnauthorizedError("You are not logged in to the Polaris Hub")

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
        self._check_open()
        return super().send(request, **kwargs)

    # ------------------------------------------------------------------ generated client
    @property
    def _wire(self) -> Wire:
        if self._wire_instance is None:
            from polaris.hub._wire import Wire

            self._wire_instance = Wire(self, self.settings.resolved_api_url)
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
        Already logged in and not ``overwrite``: logs who you are and does nothing.

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
        result = self._authenticator.login(
            overwrite=overwrite, ui=ui if ui is not None else ConsoleLoginUI(auto_open_browser=auto_open_browser)
        )
        self.token = self._authenticator.tokens.hub_token
        return result

    def logout(self) -> bool:
        """Forget this Hub's tokens (memory and cache file). Returns whether a cache file was removed."""
        removed = self._authenticator.logout()
        self.token = None
        return removed

    def whoami(self) -> str:
        """Who is logged in (e-mail or user name), after making sure the login is still usable.

        Raises:
            PolarisUnauthorizedError: not logged in, or the login can no longer be renewed.
            HubConnectionError, HubServerError, TokenExchangeError: renewing the Hub token failed.
        """
        self._check_open()
        if not self.ensure_active_token():
            raise PolarisUnauthorizedError("You are not logged in to the Polaris Hub")
        return self._authenticator.identity()

    # ------------------------------------------------------------------ helpers
    def get_metadata_from_response(self, response: httpx.Response, key: str) -> str | None:
        """The custom metadata header ``<custom_metadata_prefix><key>`` of a response, or ``None``."""
        value: str | None = response.headers.get(f"{self.settings.custom_metadata_prefix}{key}")
        return value

    # ------------------------------------------------------------------ listings
    def list_datasets(self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0) -> list[str]:
        """``owner/name`` of the V1 datasets you can see, one page.

        Raises:
            PolarisUnauthorizedError: not logged in. HubConnectionError: no answer.
            PolarisHubError (subclass per status): the Hub refused or failed.
        """
        self._check_open()
        return self._wire.list_datasets(limit=limit, offset=offset).items

    def list_benchmarks(self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0) -> list[str]:
        """``owner/name`` of the benchmarks you can see, one page.

        Raises: as :meth:`list_datasets`.
        """
        self._check_open()
        return self._wire.list_benchmarks(limit=limit, offset=offset).items

    def list_competitions(self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0) -> list[str]:
        """``owner/name`` of the competitions you can see, one page.

        Raises: as :meth:`list_datasets`.
        """
        self._check_open()
        return self._wire.list_competitions(limit=limit, offset=offset).items

    def _walk(self, fetch: Callable[..., Page], page_size: int) -> Iterator[str]:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        offset = 0
        for _ in range(MAX_PAGES):
            self._check_open()
            page = fetch(limit=page_size, offset=offset)
            yield from page.items
            offset += len(page.items)
            if not page.items or (page.total is not None and offset >= page.total):
                return
            if page.total is None and len(page.items) < page_size:
                return
        logger.warning("Stopped listing after %d pages", MAX_PAGES)

    def iter_datasets(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every V1 dataset you can see (``owner/name``), page after page.

        Raises: as :meth:`list_datasets`.
        """
        return self._walk(self._wire.list_datasets, page_size)

    def iter_benchmarks(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every benchmark you can see (``owner/name``), page after page.

        Raises: as :meth:`list_datasets`.
        """
        return self._walk(self._wire.list_benchmarks, page_size)

    def iter_competitions(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every competition you can see (``owner/name``), page after page.

        Raises: as :meth:`list_datasets`.
        """
        return self._walk(self._wire.list_competitions, page_size)

    # ------------------------------------------------------------------ artifacts
    @property
    def _artifacts(self) -> ArtifactIO:
        self._check_open()
        if self._artifact_io is None:
            from polaris.hub.artifact_io import ArtifactIO

            def storage_token(resource: str, scope: str) -> dict[str, Any]:
                return self._authenticator.storage_token(resource=resource, scope=scope)

            self._artifact_io = ArtifactIO(self._wire, storage_token, self.settings, progress=self.show_progress)
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
        owner, name = _split(owner, name)
        return self._artifacts.get_dataset(owner, name, verify_checksum, lazy=lazy)

    def get_benchmark(
        self,
        owner: str | HubOwner,
        name: str | None = None,
        verify_checksum: ChecksumStrategy = "verify_unless_zarr",
    ) -> BenchmarkSpecification:
        """Download a benchmark and its dataset; its checksum is really compared when the strategy verifies.

        Raises:
            ArtifactNotFoundError: no such benchmark (or dataset), or you may not see it.
            PolarisChecksumError: the benchmark or its dataset does not match the Hub's checksum.
            PolarisUnauthorizedError: not logged in.
        """
        owner, name = _split(owner, name)
        return self._artifacts.get_benchmark(owner, name, verify_checksum)

    def get_competition(
        self,
        owner: str | HubOwner,
        name: str | None = None,
        verify_checksum: ChecksumStrategy = "verify_unless_zarr",
    ) -> CompetitionSpecification:
        """Download a competition and its dataset (test targets stay on the Hub).

        Raises:
            ArtifactNotFoundError: no such competition, or you may not see it.
            PolarisChecksumError: the dataset does not match the Hub's masked checksum.
            PolarisUnauthorizedError: not logged in.
        """
        owner, name = _split(owner, name)
        return self._artifacts.get_competition(owner, name, verify_checksum)

    def upload_dataset(
        self,
        dataset: DatasetV1 | DatasetV2,
        access: AccessType = "private",
        timeout: TimeoutTypes = (10, 200),
        owner: str | HubOwner | None = None,
        if_exists: ZarrConflictResolution = "replace",
    ) -> dict[str, Any]:
        """Upload a dataset: metadata to the Hub, table / manifest / Zarr archive to its storage.

        ``timeout``: ``(connect, read)`` seconds for every request of this upload (Hub and storage; the read
        timeout is the longest wait for the next byte, not a deadline), ``"timeout"`` (5 s) or ``"never"``.
        ``owner`` wins over ``dataset.owner``. ``if_exists`` applies to the stored objects: ``replace``
        overwrites, ``skip`` keeps objects already there whose md5 equals ours (so re-running an interrupted
        upload sends only what is missing) and refuses ones that differ, ``raise`` refuses to overwrite.
        Returns the Hub's JSON answer.

        Raises:
            LicenseRequiredError, InvalidArtifactError: refused client-side, before anything is sent.
            PolarisCreateArtifactError: you may not create artifacts for this owner.
            ArtifactExistsError: ``if_exists="raise"`` and objects exist, or ``if_exists="skip"`` and a stored
                object differs from ours (named in the message).
            PartialUploadError: part of the data was sent; its hint gives the call that completes it.
        """
        with self._timeout_for(timeout) as pair:
            return self._artifacts.upload_dataset(
                dataset, access=access, owner=owner, if_exists=if_exists, timeout=pair
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
        benchmark: BenchmarkSpecification,
        access: AccessType = "private",
        owner: str | HubOwner | None = None,
    ) -> dict[str, Any]:
        """Upload a benchmark; its dataset must already be on the Hub. Returns the Hub's JSON answer.

        Raises:
            InvalidArtifactError: the dataset is not on the Hub, or the benchmark breaks a rule.
            PolarisCreateArtifactError: you may not create artifacts for this owner.
        """
        return self._artifacts.upload_benchmark(benchmark, access=access, owner=owner)

    def upload_results(
        self,
        results: BenchmarkResults,
        access: AccessType = "private",
        owner: str | HubOwner | None = None,
    ) -> BenchmarkResults:
        """Upload benchmark results (from ``benchmark.evaluate``); the Hub makes you their owner.

        A missing name is generated. The link where they can be seen is logged and kept in ``results.hub_url``.

        Raises:
            InvalidArtifactError: the results do not name their benchmark.
            ArtifactNotFoundError: the benchmark is not on the Hub.
            PolarisCreateArtifactError: ``owner`` is not you.
        """
        uploaded, url = self._artifacts.upload_results(results, access=access, owner=owner)
        uploaded.hub_url = url
        return uploaded

    def evaluate_competition(
        self, competition: CompetitionSpecification, competition_predictions: CompetitionPredictions | Any
    ) -> CompetitionResults:
        """Send predictions to the Hub, which scores them against the hidden test labels.

        ``competition_predictions`` is a :class:`CompetitionPredictions` or any prediction shape
        ``benchmark.evaluate`` accepts (a list for one target and one test set, ``{test: {target: values}}``...).

        Raises:
            ValueError: the predictions do not fit the competition's test sets.
            ArtifactNotFoundError: no such competition. PolarisUnauthorizedError: not logged in.
        """
        return self._artifacts.evaluate_competition(competition, competition_predictions)


def _split(owner: str | HubOwner, name: str | None) -> tuple[str, str]:
    """``("owner", "name")`` from ``owner, name`` or from a single ``"owner/name"``."""
    slug = owner.slug if isinstance(owner, HubOwner) else str(owner)
    if name is None:
        return split_artifact_id(slug)
    return slug, name

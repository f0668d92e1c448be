"""``PolarisHubClient``: the documented entry point to the Polaris Hub.

It *is* an httpx client (an authlib ``OAuth2Client``, through :class:`~polaris.hub._base_client.HubHTTPClient`, the
HTTP side): every request carries the Hub token, renewed without asking the user when it expires. ``client.api``
is the generated client sharing that connection, for power users who want to call any endpoint directly.

Every documented method is a short hand-off to one object per artifact kind (:mod:`polaris.hub.flows`):
``self._flows.datasets``, ``.dataset_upload``, ``.benchmarks``, ``.competitions``, ``.models``, and
``self._listings`` for the listings. Argument checks go at the top of each method, before its hand-off.

Importing this module stays cheap: no pandas, pyarrow, zarr, obstore, numpy or scikit-learn.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, overload

from polaris.errors import SettingsError
from polaris.hub import arguments
from polaris.hub._base_client import HubHTTPClient
from polaris.hub.auth import ConsoleLoginUI, LoginResult, LoginUI, not_logged_in
from polaris.hub.flows.listings import DEFAULT_PAGE_SIZE, MAX_PAGES, Listings
from polaris.hub.redact import install_log_redaction, redact_url
from polaris.hub.settings import PolarisHubSettings
from polaris.hub.wire.core import ArtifactKind, owner_and_name
from polaris.types import AccessType, ChecksumStrategy, HubOwner, TimeoutTypes, ZarrConflictResolution

if TYPE_CHECKING:
    import httpx
    import pandas as pd

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
    from polaris.hub.cache import DownloadCache
    from polaris.hub.flows import Flows
    from polaris.hub.wire import ArtifactSummary

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGES", "PolarisHubClient"]

# Secrets never reach a log line: the client's loggers and those of the HTTP stacks get a redacting filter.
install_log_redaction()


class PolarisHubClient(HubHTTPClient):
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

    _flows_instance: Flows | None = None
    _listings_instance: Listings | None = None

    def __repr__(self) -> str:
        return f"PolarisHubClient(hub_url={redact_url(self.settings.hub_url)!r}, logged_in={self.is_logged_in})"

    def __enter__(self) -> PolarisHubClient:
        self._check_open()
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ the objects the methods hand off to
    @property
    def _flows(self) -> Flows:
        self._check_open()
        if self._flows_instance is None:
            from polaris.hub.flows import Flows
            from polaris.hub.flows.context import FlowContext

            def storage_token(resource: str, scope: str) -> dict[str, Any]:
                return self._authenticator.storage_token(resource=resource, scope=scope)

            context = FlowContext(self._wire, storage_token, self.settings, progress=lambda: self.show_progress)
            self._flows_instance = Flows(context)
            self._on_close.append(self._flows_instance.close)
        return self._flows_instance

    @property
    def _listings(self) -> Listings:
        if self._listings_instance is None:
            self._listings_instance = Listings(self._wire, self._check_open)
        return self._listings_instance

    @property
    def cache(self) -> DownloadCache:
        """The verified download cache this client reads and fills (read-only attribute; see
        :class:`~polaris.hub.cache.DownloadCache` for ``entries()``, ``verify()``, ``remove()``)."""
        return self._flows.context.cache

    @property
    def is_anonymous(self) -> bool:
        """True when reads go out without a token (no usable login): only public artifacts can be seen."""
        self._check_open()
        return self._wire.anonymous

    # ------------------------------------------------------------------ authentication
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
            self._wire.datasets.list_datasets(limit=1, offset=0)

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
        self._authenticator.check_with_hub(lambda: self._wire.datasets.list_datasets(limit=1, offset=0))
        return self._authenticator.identity()

    @property
    def login_username(self) -> str | None:
        """The user name (the owner slug of your artifacts) of the cached login: the identity provider's
        ``preferred_username``/``username`` claim, else the password-grant user; ``None`` when not logged in or
        the login names only an e-mail."""
        if self._authenticator.tokens.hub_token is None:
            return None
        claims = self._authenticator.tokens.identity or {}
        for key in ("preferred_username", "username"):
            if claims.get(key):
                return str(claims[key])
        settings = self._authenticator.settings
        if settings.uses_password_grant and settings.username:
            return str(settings.username)
        return None

    def get_artifact_metadata(
        self, kind: Literal["dataset", "benchmark"], owner: str | HubOwner, name: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """The Hub's metadata of a dataset or benchmark without downloading any of its data: ``(generation, JSON)``,
        generation 1 (V1) or 2 (V2; tried when the Hub has no V1 artifact of that name).

        Raises:
            ValueError: another kind. ArtifactNotFoundError: no such artifact, or you may not see it.
            HubConnectionError: no answer.
        """
        self._check_open()
        own, nm = owner_and_name(owner, name)
        if kind == "dataset":
            generation, data = self._wire.datasets.get_dataset(own, nm)
        elif kind == "benchmark":
            generation, data = self._wire.benchmarks.get_benchmark(own, nm)
        else:
            raise ValueError(f"kind must be 'dataset' or 'benchmark'; got {kind!r}")
        return int(generation), data

    def get_metadata_from_response(self, response: httpx.Response, key: str) -> str | None:
        """The custom metadata header ``<custom_metadata_prefix><key>`` of a response, or ``None``."""
        value: str | None = response.headers.get(f"{self.settings.custom_metadata_prefix}{key}")
        return value

    # ------------------------------------------------------------------ datasets
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
        owner, name = owner_and_name(owner, name)
        return self._flows.datasets.get(owner, name, verify_checksum, lazy=lazy)

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
        upload = self._flows.dataset_upload
        with self._timeout_for(timeout) as pair:
            return upload.upload(
                dataset,
                access=access,
                owner=owner,
                if_exists=if_exists,
                timeout=pair,
                parent_artifact_id=parent_artifact_id,
            )

    # ------------------------------------------------------------------ benchmarks and results
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
        owner, name = owner_and_name(owner, name)
        return self._flows.benchmarks.get(owner, name, verify_checksum)

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
        return self._flows.benchmarks.upload(
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
        uploaded, url = self._flows.benchmarks.upload_results(results, access=access, owner=owner, model=model)
        uploaded.hub_url = url
        return uploaded

    # ------------------------------------------------------------------ competitions
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
        owner, name = owner_and_name(owner, name)
        return self._flows.competitions.get(owner, name, verify_checksum)

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
        return self._flows.competitions.evaluate(
            spec, competition_predictions, name=name, owner=owner, report_url=report_url, description=description
        )

    # ------------------------------------------------------------------ models
    def get_model(self, owner: str | HubOwner, name: str | None = None) -> Model:
        """A model's metadata: ``get_model("owner", "name")`` or ``get_model("owner/name")`` (a version's slug works).

        Raises:
            ArtifactNotFoundError: no such model, or you may not see it (not logged in: only public ones).
            HubConnectionError: no answer.
        """
        owner, name = owner_and_name(owner, name)
        return self._flows.models.get(owner, name)

    def upload_model(
        self,
        model: Model,
        access: AccessType = "private",
        owner: str | HubOwner | None = None,
        *,
        parent_artifact_id: str | None = None,
    ) -> dict[str, Any]:
        """Upload a model (metadata only). ``parent_artifact_id`` (``owner/slug``) makes it a new version of that
        model (set ``model.artifact_changelog`` to say what changed). Returns the Hub's JSON answer.

        ``PUT /v2/model/{owner}/{slug}`` (0.12+), or ``POST /v2/model`` on a 0.11 Hub (learned once per client).

        Raises:
            InvalidArtifactError: no name or owner (nothing sent).
            PolarisUnauthorizedError: not logged in. PolarisCreateArtifactError: not your owner.
            ArtifactNotFoundError: the Hub has no model endpoints.
        """
        return self._flows.models.upload(model, access=access, owner=owner, parent_artifact_id=parent_artifact_id)

    # ------------------------------------------------------------------ listings
    @overload
    def list_datasets(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: Literal[False] = False
    ) -> list[str]: ...

    @overload
    def list_datasets(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: Literal[True]
    ) -> pd.DataFrame: ...

    def list_datasets(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: bool = False
    ) -> list[str] | pd.DataFrame:
        """``owner/name`` of the datasets you can see, one page: V2 first, then V1 (as the Hub pages them).

        Without a login only public datasets are listed (no token is sent). Details: ``list_artifacts("dataset")``.
        ``as_frame=True`` returns the page as a pandas DataFrame instead (owner, name, kind, version, access,
        size_bytes; see :mod:`polaris.hub.listing`).

        Raises:
            PolarisUnauthorizedError: not logged in. HubConnectionError: no answer.
            PolarisHubError (subclass per status): the Hub refused or failed.
        """
        return self._list("dataset", limit, offset, as_frame)

    @overload
    def list_benchmarks(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: Literal[False] = False
    ) -> list[str]: ...

    @overload
    def list_benchmarks(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: Literal[True]
    ) -> pd.DataFrame: ...

    def list_benchmarks(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: bool = False
    ) -> list[str] | pd.DataFrame:
        """``owner/name`` of the benchmarks you can see, one page: V2 first, then V1.

        Raises: as :meth:`list_datasets`.
        """
        return self._list("benchmark", limit, offset, as_frame)

    @overload
    def list_competitions(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: Literal[False] = False
    ) -> list[str]: ...

    @overload
    def list_competitions(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: Literal[True]
    ) -> pd.DataFrame: ...

    def list_competitions(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: bool = False
    ) -> list[str] | pd.DataFrame:
        """``owner/name`` of the competitions you can see, one page.

        Raises: as :meth:`list_datasets`.
        """
        return self._list("competition", limit, offset, as_frame)

    @overload
    def list_models(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: Literal[False] = False
    ) -> list[str]: ...

    @overload
    def list_models(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: Literal[True]
    ) -> pd.DataFrame: ...

    def list_models(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: bool = False
    ) -> list[str] | pd.DataFrame:
        """``owner/slug`` of the models you can see, one page (none on a Hub without models).

        Raises: as :meth:`list_artifacts`.
        """
        return self._list("model", limit, offset, as_frame)

    def _list(self, kind: ArtifactKind, limit: int, offset: int, as_frame: bool) -> list[str] | pd.DataFrame:
        page = self._listings.page(kind, limit, offset)
        return self._listings.frame(kind, page) if as_frame else page.items

    @overload
    def list_artifacts(
        self, kind: ArtifactKind, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: Literal[False] = False
    ) -> list[ArtifactSummary]: ...

    @overload
    def list_artifacts(
        self, kind: ArtifactKind, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: Literal[True]
    ) -> pd.DataFrame: ...

    def list_artifacts(
        self, kind: ArtifactKind, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: bool = False
    ) -> list[ArtifactSummary] | pd.DataFrame:
        """One page of artifacts of ``kind`` with what a table shows: kind, generation (``version`` 1/2), owner, name,
        ``artifact_id``, the Hub's ``artifact_version`` and description. Datasets and benchmarks: V2 first, then V1.
        ``as_frame=True``: the page as a DataFrame (see :mod:`polaris.hub.listing`).

        Raises:
            ValueError: unknown kind. HubConnectionError: no answer.
            PolarisHubError (subclass per status): the Hub refused or failed.
        """
        page = self._listings.page(kind, limit, offset)
        return self._listings.frame(kind, page) if as_frame else list(page.entries)

    def iter_artifacts(self, kind: ArtifactKind, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[ArtifactSummary]:
        """Every artifact of ``kind`` you can see, as :class:`~polaris.hub.wire.ArtifactSummary`, page after page.

        Raises: as :meth:`list_artifacts`.
        """
        for page in self._listings.pages(kind, page_size):
            yield from page.entries

    def iter_datasets(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every dataset you can see (``owner/name``; V2, then V1), page after page.

        Raises: as :meth:`list_datasets`.
        """
        return self._iter("dataset", page_size)

    def iter_benchmarks(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every benchmark you can see (``owner/name``), page after page.

        Raises: as :meth:`list_datasets`.
        """
        return self._iter("benchmark", page_size)

    def iter_competitions(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every competition you can see (``owner/name``), page after page.

        Raises: as :meth:`list_datasets`.
        """
        return self._iter("competition", page_size)

    def iter_models(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every model you can see (``owner/slug``), page after page.

        Raises: as :meth:`list_artifacts`.
        """
        return self._iter("model", page_size)

    def _iter(self, kind: ArtifactKind, page_size: int) -> Iterator[str]:
        for page in self._listings.pages(kind, page_size):
            yield from page.items

    def _v1_dataset_metadata(self, owner: str, name: str) -> dict[str, Any]:
        """The Hub's metadata of one V1 dataset (for the ``size_bytes`` of :mod:`polaris.hub.listing` frames)."""
        self._check_open()
        return self._wire.datasets.get_dataset_v1(owner, name)


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

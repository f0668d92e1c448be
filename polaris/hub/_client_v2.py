"""What ``PolarisHubClient`` gained for the 0.11-0.13 Hub: models, artifact summaries for listings, anonymous reads.

A mixin so that ``client.py`` stays thin; every method here is part of the documented client surface.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from polaris.types import AccessType, HubOwner, split_artifact_id

if TYPE_CHECKING:
    from polaris.artifacts import Model
    from polaris.hub.artifact_io_v2 import ArtifactIOV2
    from polaris.hub.auth import HubAuthenticator
    from polaris.hub.wire import ArtifactSummary, Page, Wire

__all__ = ["ArtifactKindName", "HubGenerationsMixin"]

ArtifactKindName = Literal["dataset", "benchmark", "competition", "model"]

_DEFAULT_PAGE_SIZE = 100


class HubGenerationsMixin:
    """Models, listings with details, anonymous-read status (mixed into :class:`PolarisHubClient`)."""

    if TYPE_CHECKING:

        @property
        def _wire(self) -> Wire: ...
        @property
        def _artifacts(self) -> ArtifactIOV2: ...

        _authenticator: HubAuthenticator

        def _check_open(self) -> None: ...
        def _walk(self, fetch: Callable[..., Page], page_size: int) -> Iterator[str]: ...

    # ------------------------------------------------------------------ anonymous reads
    @property
    def is_anonymous(self) -> bool:
        """True when reads go out without a token (no usable login): only public artifacts can be seen."""
        self._check_open()
        return self._wire.anonymous

    # ------------------------------------------------------------------ listings with details
    def _lister(self, kind: ArtifactKindName) -> Callable[..., Page]:
        listers: dict[str, Callable[..., Page]] = {
            "dataset": self._wire.list_datasets,
            "benchmark": self._wire.list_benchmarks,
            "competition": self._wire.list_competitions,
            "model": self._wire.list_models,
        }
        if kind not in listers:
            raise ValueError(f"unknown artifact kind {kind!r}; expected one of {', '.join(listers)}")
        return listers[kind]

    def list_artifacts(
        self, kind: ArtifactKindName, limit: int = _DEFAULT_PAGE_SIZE, offset: int = 0
    ) -> list[ArtifactSummary]:
        """One page of artifacts of ``kind`` with what a table shows: kind, generation (``version`` 1/2), owner, name,
        ``artifact_id``, the Hub's ``artifact_version`` and description. Datasets and benchmarks: V2 first, then V1.

        Raises:
            ValueError: unknown kind. HubConnectionError: no answer.
            PolarisHubError (subclass per status): the Hub refused or failed.
        """
        self._check_open()
        return list(self._lister(kind)(limit=limit, offset=offset).entries)

    def iter_artifacts(self, kind: ArtifactKindName, page_size: int = _DEFAULT_PAGE_SIZE) -> Iterator[ArtifactSummary]:
        """Every artifact of ``kind`` you can see, as :class:`~polaris.hub.wire.ArtifactSummary`, page after page.

        Raises: as :meth:`list_artifacts`.
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        fetch = self._lister(kind)
        offset = 0
        while True:
            self._check_open()
            page = fetch(limit=page_size, offset=offset)
            yield from page.entries
            offset += len(page.items)
            if not page.items or (page.total is not None and offset >= page.total):
                return
            if page.total is None and len(page.items) < page_size:
                return

    # ------------------------------------------------------------------ models
    def list_models(self, limit: int = _DEFAULT_PAGE_SIZE, offset: int = 0) -> list[str]:
        """``owner/slug`` of the models you can see, one page (none on a Hub without models).

        Raises: as :meth:`list_artifacts`.
        """
        self._check_open()
        return self._wire.list_models(limit=limit, offset=offset).items

    def iter_models(self, page_size: int = _DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every model you can see (``owner/slug``), page after page.

        Raises: as :meth:`list_artifacts`.
        """
        return self._walk(self._wire.list_models, page_size)

    def get_model(self, owner: str | HubOwner, name: str | None = None) -> Model:
        """A model's metadata: ``get_model("owner", "name")`` or ``get_model("owner/name")`` (a version's slug works).

        Raises:
            ArtifactNotFoundError: no such model, or you may not see it (not logged in: only public ones).
            HubConnectionError: no answer.
        """
        self._check_open()
        slug = owner.slug if isinstance(owner, HubOwner) else str(owner)
        own, nm = split_artifact_id(slug) if name is None else (slug, name)
        return self._artifacts.get_model(own, nm)

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
        slug = owner.slug if isinstance(owner, HubOwner) else str(owner)
        own, nm = split_artifact_id(slug) if name is None else (slug, name)
        if kind == "dataset":
            return self._wire.get_dataset(own, nm)
        if kind == "benchmark":
            return self._wire.get_any_benchmark(own, nm)
        raise ValueError(f"kind must be 'dataset' or 'benchmark'; got {kind!r}")

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
        self._check_open()
        return self._artifacts.upload_model(model, access=access, owner=owner, parent_artifact_id=parent_artifact_id)

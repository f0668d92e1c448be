"""What every artifact flow shares: :class:`FlowContext` (wire, storage tokens, settings, cache, progress, offline),
the layout of a cache entry, and the ONE offline fallback of every ``get_*`` (:meth:`FlowContext.fetch`).

The offline fallback, for every kind and generation:

* offline mode (``POLARIS_OFFLINE=1`` / ``settings.offline``): the Hub is never asked; the most recently used
  verified cache entry of the artifact is served (one INFO line), else :class:`~polaris.errors.NotCachedError`;
* the Hub cannot be reached (no connection, or it answers 5xx after the retry policy's tries): the same cached
  copy (one WARNING line naming why), else the Hub's error. What the artifact needs next (a benchmark's dataset,
  a competition's dataset) is then read from the cache too, without asking the Hub again.

Each cache entry records the :class:`~polaris.hub.wire.generations.Generation` that answered (``generation``
file next to ``metadata.json``), so a cached copy is rebuilt as what it was.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polaris.errors import HubConnectionError, HubServerError, NotCachedError, PolarisHubError, PolarisUnauthorizedError
from polaris.hub.cache import CacheKey, DownloadCache
from polaris.hub.direct import DirectReader, DirectSession, is_direct_url
from polaris.hub.storage import StorageSession, StorageToken
from polaris.hub.wire.generations import Generation
from polaris.types import slugify

if TYPE_CHECKING:
    from polaris.hub.settings import PolarisHubSettings
    from polaris.hub.wire import Wire

__all__ = [
    "GENERATION_FILE",
    "MANIFEST_FILE",
    "METADATA_FILE",
    "NOT_PUBLIC_HINT",
    "TABLE_FILE",
    "ZARR_DIR",
    "Fetched",
    "FlowContext",
    "StorageTokenSource",
    "answered_slug",
    "record_version",
]

logger = logging.getLogger(__name__)

# The files of a cache entry.
TABLE_FILE = "table.parquet"
ZARR_DIR = "data.zarr"
MANIFEST_FILE = "zarr_manifest.parquet"
METADATA_FILE = "metadata.json"
#: The generation that answered (``1`` or ``2``), written next to the metadata.
GENERATION_FILE = "generation"
#: Name of the V2 manifest object next to a Zarr root (what storage tokens name it) [inferred for direct URLs].
MANIFEST_NEXT_TO_ROOT = "zarr_manifest.parquet"

#: ``(resource URN, scope) -> storage-token answer``; renews the Hub token as needed.
StorageTokenSource = Callable[[str, str], Mapping[str, Any]]

NOT_PUBLIC_HINT = (
    "Its data is not public (the Hub gave no direct URL for it). Log in with `polaris login` to read it through "
    "the Hub's storage."
)

#: Errors that mean "the Hub is not there right now" (after the retry policy's tries): the cached copy is used.
_UNREACHABLE = (HubConnectionError, HubServerError)


@dataclass(frozen=True)
class Fetched:
    """An artifact's metadata, from the Hub or from the cache.

    ``entry``: the verified cache entry it came from (``None``: the Hub answered). ``hub_down``: why the Hub was
    not used (the error; ``None`` in offline mode and when the Hub answered). Pass it as ``parent`` to the fetch of
    what the artifact needs next, so that the Hub is not asked again.
    """

    generation: Generation
    data: dict[str, Any]
    entry: Path | None = None
    hub_down: PolarisHubError | None = None

    @property
    def from_cache(self) -> bool:
        return self.entry is not None


class FlowContext:
    """The small set of things the flows share (one per client).

    Args:
        wire: the client's :class:`~polaris.hub.wire.Wire` (every Hub call goes through it).
        storage_token: see :data:`StorageTokenSource`.
        settings: the client's settings (hub_url for links, ca_bundle for storage TLS, offline).
        progress: whether transfers show progress bars now (read at each transfer).
        cache: the verified download cache (default: the user's cache folder).
    """

    def __init__(
        self,
        wire: Wire,
        storage_token: StorageTokenSource,
        settings: PolarisHubSettings,
        *,
        progress: Callable[[], bool] = lambda: True,
        cache: DownloadCache | None = None,
    ) -> None:
        self.wire = wire
        self.storage_token = storage_token
        self.settings = settings
        self._progress = progress
        self.cache = cache if cache is not None else DownloadCache()
        self._direct: DirectReader | None = None
        self._direct_paths: dict[str, dict[str, str]] = {}

    @property
    def offline(self) -> bool:
        return bool(self.settings.offline)

    @property
    def progress(self) -> bool:
        return self._progress()

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()

    def web_url(self, path: str) -> str:
        return self.settings.hub_url.rstrip("/") + "/" + path.lstrip("/")

    # ------------------------------------------------------------------ the one offline fallback
    def fetch(
        self,
        kind: str,
        owner: str,
        name: str,
        ask_hub: Callable[[], tuple[Generation, dict[str, Any]]],
        *,
        infer: Callable[[Mapping[str, Any]], Generation],
        parent: Fetched | None = None,
    ) -> Fetched:
        """The metadata of one artifact: from the Hub, or its verified cached copy when the Hub cannot be used.

        ``infer``: the generation of a cache entry written before entries recorded it. ``parent``: the artifact this
        one is part of (a benchmark's dataset...); when that came from the cache, so does this one, without asking
        the Hub and without a second log line.

        Raises:
            NotCachedError: offline mode, and no verified copy is cached.
            HubConnectionError, HubServerError: the Hub cannot be reached and no verified copy is cached.
            PolarisHubError (subclass per status): any other refusal of the Hub (never masked by the cache).
        """
        artifact = f"{owner}/{name}"
        if self.offline or (parent is not None and parent.from_cache):
            hub_down = parent.hub_down if parent is not None else None
            cached = self._cached(kind, owner, name, infer)
            if cached is None:
                if hub_down is not None:
                    raise hub_down
                raise NotCachedError(
                    f"Offline mode is on and the {kind} {artifact} is not in the local cache",
                    kind=kind,
                    artifact=artifact,
                )
            if parent is None:
                logger.info("Offline mode: using the verified cached copy of %s (%s)", artifact, kind)
            else:
                logger.debug("using the verified cached copy of %s (%s) too", artifact, kind)
            return Fetched(cached[0], cached[1], cached[2], hub_down)
        try:
            generation, data = ask_hub()
        except _UNREACHABLE as exc:
            cached = self._cached(kind, owner, name, infer)
            if cached is None:
                raise
            logger.warning(
                "The Hub cannot be reached (%s); using the verified cached copy of %s (%s)", exc.message, artifact, kind
            )
            return Fetched(cached[0], cached[1], cached[2], exc)
        return Fetched(generation, data)

    def _cached(
        self, kind: str, owner: str, name: str, infer: Callable[[Mapping[str, Any]], Generation]
    ) -> tuple[Generation, dict[str, Any], Path] | None:
        """The most recently used verified entry of an artifact that passes the cache's check."""
        artifact_id = f"{owner}/{slugify(name)}"
        for info in self.cache.entries():  # most recently used first
            if info.kind != kind or info.artifact_id != artifact_id or not info.verified:
                continue
            if not self.cache.verify(info.key, full=False).ok:
                logger.warning("the cached copy of %s %s is damaged; not using it", kind, artifact_id)
                continue
            meta = info.path / METADATA_FILE
            if not meta.is_file():
                continue
            data = json.loads(meta.read_text(encoding="utf-8"))
            recorded = info.path / GENERATION_FILE
            generation = Generation(int(recorded.read_text())) if recorded.is_file() else infer(data)
            return generation, data, info.path
        return None

    @staticmethod
    def write_metadata(entry: Path, generation: Generation, data: Mapping[str, Any]) -> None:
        """Write the Hub's answer and the generation that gave it into an entry being filled."""
        (entry / METADATA_FILE).write_text(json.dumps(dict(data)), encoding="utf-8")
        (entry / GENERATION_FILE).write_text(str(int(generation)), encoding="utf-8")

    def remember(self, kind: str, artifact_id: str, generation: Generation, data: Mapping[str, Any]) -> None:
        """Keep the metadata of a metadata-only artifact (benchmark, model...) so it can be loaded offline later."""
        digest = str(data.get("md5Sum") or data.get("artifactVersion") or "latest")
        try:

            def fill(tmp: Path) -> None:
                tmp.mkdir(parents=True)
                self.write_metadata(tmp, generation, data)

            self.cache.fetch(CacheKey(kind, artifact_id, digest), fill)
        except OSError as exc:  # the cache is a convenience; never fail a download over it
            logger.debug("could not cache %s %s: %s", kind, artifact_id, exc)

    # ------------------------------------------------------------------ bytes
    @property
    def direct(self) -> DirectReader:
        """The reader of public objects at direct URLs (created on first use)."""
        if self._direct is None:
            self._direct = DirectReader(
                verify=self.settings.httpx_verify(),
                timeout=self.settings.httpx_timeout(),
                max_bytes=self.settings.max_declared_bytes,
            )
        return self._direct

    @contextmanager
    def storage(self, resource: str, scope: str, *, timeout: tuple[float, float] | None = None) -> Iterator[Any]:
        """A storage session for one artifact (token fetched lazily, renewed when it expires); without a login, a
        read of public data goes to the direct URLs the Hub gave instead (:class:`~polaris.hub.direct.DirectSession`).

        Raises:
            PolarisUnauthorizedError: not logged in and the Hub gave no direct URL for this data.
        """
        if scope == "read" and self.wire.anonymous:
            paths = self._direct_paths.get(resource)
            if not paths:
                raise PolarisUnauthorizedError(f"reading the data of {resource} needs a login", hint=NOT_PUBLIC_HINT)
            yield DirectSession(self.direct, paths)
            return

        def provider() -> StorageToken:
            return StorageToken.from_response(dict(self.storage_token(resource, scope)))

        ca_bundle = self.settings.ca_bundle
        with StorageSession(
            provider,
            max_workers=self.settings.storage_max_concurrency,
            progress=self.progress,
            ca_bundle=ca_bundle,
            timeout=timeout,
        ) as session:
            yield session

    def token_source(self, resource: str, scope: str) -> Any:
        """A :class:`~polaris.hub.storage.lazy.LocalTokenSource` for one artifact (never pickled)."""
        from polaris.hub.storage.lazy import LocalTokenSource

        def fetch() -> StorageToken:
            return StorageToken.from_response(dict(self.storage_token(resource, scope)))

        return LocalTokenSource(fetch)

    def note_direct(self, urn: str, data: Mapping[str, Any], keys: tuple[str, ...]) -> None:
        """Remember the direct URLs of an answer (``keys``) for reads without a login."""
        paths = {k: str(data[k]) for k in keys if is_direct_url(data.get(k))}
        if paths:
            self._direct_paths[urn] = paths
        else:
            self._direct_paths.pop(urn, None)  # no longer public: never reuse older URLs

    def note_zarr_root(self, urn: str, data: Mapping[str, Any]) -> None:
        """Direct paths of a Zarr-only artifact: its ``root``, and the manifest next to it [inferred]."""
        if is_direct_url(data.get("root")):
            root = str(data["root"])
            sibling = root.rstrip("/").rsplit("/", 1)[0] + "/" + MANIFEST_NEXT_TO_ROOT
            self._direct_paths[urn] = {"root": root, "manifest": sibling}
        else:
            self._direct_paths.pop(urn, None)


def answered_slug(stored: Mapping[str, Any], default: str) -> str:
    """The slug the Hub stored an upload under (0.12: a new version gets a new slug)."""
    slug = stored.get("slug")
    return str(slug) if isinstance(slug, str) and slug else default


def record_version(artifact: Any, stored: Mapping[str, Any], slug: str) -> None:
    """Copy the Hub's ``artifactVersion`` of an upload onto the artifact."""
    version = stored.get("artifactVersion")
    if isinstance(version, int):
        artifact.artifact_version = version
    logger.debug("the Hub stored the upload as %s", slug)

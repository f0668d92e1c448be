"""The plumbing every :class:`~polaris.hub.artifact_io.ArtifactIO` flow shares.

The file names inside a cache entry, the storage-token source type, the base class holding the client's wire,
settings and cache (with its storage sessions), and the one logger of the flows. Re-exported by
:mod:`polaris.hub.artifact_io`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from polaris.hub.cache import DownloadCache
from polaris.hub.storage import StorageSession, StorageToken
from polaris.types import HubOwner

if TYPE_CHECKING:
    from polaris.hub._wire import Wire
    from polaris.hub.settings import PolarisHubSettings

__all__ = ["MANIFEST_FILE", "METADATA_FILE", "TABLE_FILE", "ZARR_DIR", "StorageTokenSource", "owner_slug"]

#: One logger for all the flows, named after :mod:`polaris.hub.artifact_io` (``PolarisHubClient`` filters it by
#: that name to reword the offline messages), whichever module the code logging to it lives in.
logger = logging.getLogger("polaris.hub.artifact_io")

TABLE_FILE = "table.parquet"
ZARR_DIR = "data.zarr"
MANIFEST_FILE = "zarr_manifest.parquet"
METADATA_FILE = "metadata.json"

StorageTokenSource = Callable[[str, str], Mapping[str, Any]]


def owner_slug(owner: str | HubOwner) -> str:
    return owner.slug if isinstance(owner, HubOwner) else str(owner)


class _ArtifactIOBase:
    """What every part of :class:`~polaris.hub.artifact_io.ArtifactIO` builds on (arguments: documented there)."""

    def __init__(
        self,
        wire: Wire,
        storage_token: StorageTokenSource,
        settings: PolarisHubSettings,
        *,
        progress: bool = True,
        cache: DownloadCache | None = None,
    ) -> None:
        self.wire = wire
        self._storage_token = storage_token
        self.settings = settings
        self.progress = progress
        self.cache = cache if cache is not None else DownloadCache()

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def storage(
        self, resource: str, scope: str, *, timeout: tuple[float, float] | None = None
    ) -> Iterator[StorageSession]:
        """A storage session for one artifact; the token is fetched lazily and renewed when it expires."""

        def provider() -> StorageToken:
            return StorageToken.from_response(dict(self._storage_token(resource, scope)))

        ca_bundle = self.settings.ca_bundle
        with StorageSession(
            provider,
            max_workers=self.settings.storage_max_concurrency,
            progress=self.progress,
            ca_bundle=ca_bundle,
            timeout=timeout,
        ) as session:
            yield session

    def web_url(self, path: str) -> str:
        return self.settings.hub_url.rstrip("/") + "/" + path.lstrip("/")

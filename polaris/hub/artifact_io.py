"""Getting and uploading artifacts: Hub metadata (through :mod:`polaris.hub._wire`) plus their bytes in object storage.

The flow of every download is the same:

1. read the artifact's metadata from the Hub (its checksums included);
2. look the content up in the content-addressed :class:`~polaris.hub.cache.DownloadCache`
   (key = artifact id + the Hub's checksum), so an unchanged artifact is never transferred twice;
3. on a miss, take a read-scoped storage token and stream the objects into ``<entry>.incomplete``, verifying
   every file (and every Zarr chunk, against the Hub's manifest) as it arrives; verify the whole dataset's
   checksum when the strategy says so; only then rename the entry into place;
4. build the artifact model from the metadata and the local files.

If the Hub cannot be reached, the most recent verified copy in the cache is used (logged as a warning).

Uploads go the other way: client-side checks first (licence, owner, ...), then the metadata ``PUT``, then a
write-scoped storage token and the objects. An interrupted upload can be completed with ``if_exists="skip"``.

The code is split by concern: :mod:`polaris.hub._artifact_core` (shared plumbing, the file names of a cache entry),
:mod:`polaris.hub._artifact_download` (downloads into the cache, offline use), :mod:`polaris.hub._artifact_remote`
(lazy datasets), :mod:`polaris.hub._artifact_upload` (dataset uploads); this module assembles :class:`ArtifactIO`
from them, holds the benchmark, results and competition flows, and re-exports the names that lived here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from polaris import checksum
from polaris.errors import ArtifactExistsError as ArtifactExistsError
from polaris.errors import ArtifactNotFoundError, HubConnectionError, InvalidArtifactError
from polaris.errors import ClientClosedError as ClientClosedError
from polaris.errors import PartialUploadError as PartialUploadError
from polaris.errors import PolarisChecksumError as PolarisChecksumError
from polaris.errors import StorageError as StorageError
from polaris.hub._artifact_core import MANIFEST_FILE as MANIFEST_FILE
from polaris.hub._artifact_core import METADATA_FILE as METADATA_FILE
from polaris.hub._artifact_core import TABLE_FILE as TABLE_FILE
from polaris.hub._artifact_core import ZARR_DIR as ZARR_DIR
from polaris.hub._artifact_core import StorageTokenSource as StorageTokenSource
from polaris.hub._artifact_core import owner_slug as owner_slug
from polaris.hub._artifact_download import _DatasetDownloads
from polaris.hub._artifact_remote import _D as _D
from polaris.hub._artifact_remote import _HubLink as _HubLink
from polaris.hub._artifact_remote import _linked as _linked
from polaris.hub._artifact_remote import _manifest_from_parquet as _manifest_from_parquet
from polaris.hub._artifact_remote import _no_link as _no_link
from polaris.hub._artifact_upload import _DatasetUploads
from polaris.hub._artifact_upload import _UploadPlan as _UploadPlan
from polaris.hub.cache import CacheKey as CacheKey
from polaris.hub.cache import DownloadCache as DownloadCache
from polaris.hub.storage import StagedZarr as StagedZarr
from polaris.hub.storage import StorageSession as StorageSession
from polaris.hub.storage import StorageToken as StorageToken
from polaris.hub.storage import stage_zarr as stage_zarr
from polaris.types import ChecksumStrategy, HubOwner, slugify
from polaris.types import ZarrConflictResolution as ZarrConflictResolution
from polaris.types import artifact_urn as artifact_urn

if TYPE_CHECKING:
    from polaris.artifacts import (
        BenchmarkResults,
        BenchmarkSpecification,
        CompetitionResults,
        CompetitionSpecification,
    )
    from polaris.artifacts.competition import CompetitionPredictions

__all__ = ["ArtifactIO"]

logger = logging.getLogger(__name__)


class ArtifactIO(_DatasetUploads, _DatasetDownloads):
    """Artifact transfers for one client.

    Args:
        wire: the client's :class:`~polaris.hub._wire.Wire` (all Hub calls go through it).
        storage_token: ``(resource URN, scope) -> storage-token answer``; renews the Hub token as needed.
        settings: the client's settings (hub_url for links, ca_bundle for storage TLS).
        progress: show byte-level progress bars during transfers.
    """

    # The dataset flows (and __init__, storage, web_url) come from the base classes, one module each.

    # ------------------------------------------------------------------ benchmarks and results
    def get_benchmark(self, owner: str, name: str, verify_checksum: ChecksumStrategy) -> BenchmarkSpecification:
        from polaris.artifacts import BenchmarkSpecification, DatasetV1

        try:
            data = self.wire.get_benchmark(owner, name)
        except HubConnectionError:
            offline = self._offline("benchmark", owner, name)
            if offline is None:
                raise
            data = offline[0]
        ref = data["dataset"]
        dataset = self.get_dataset(owner_slug(ref["owner"]["slug"]), str(ref["name"]), verify_checksum)
        if not isinstance(dataset, DatasetV1):
            raise InvalidArtifactError(
                f"benchmark {owner}/{name} is built on a V2 dataset, which this client cannot use"
            )
        benchmark: BenchmarkSpecification = BenchmarkSpecification.from_wire(
            {k: v for k, v in data.items() if k != "dataset"}, dataset=dataset
        )
        if checksum.should_verify(verify_checksum, has_zarr=dataset.uses_zarr, version=1) and data.get("md5Sum"):
            benchmark.verify_checksum(str(data["md5Sum"]))
        self._remember("benchmark", str(data.get("artifactId") or f"{owner}/{slugify(name)}"), data)
        return benchmark

    def upload_benchmark(
        self, benchmark: BenchmarkSpecification, *, access: str, owner: str | HubOwner | None
    ) -> dict[str, Any]:
        from polaris.artifacts import DatasetV1

        if owner is not None:
            benchmark.owner = HubOwner.normalize(owner)
        benchmark.access = access  # type: ignore[assignment]
        benchmark.check_uploadable()
        assert benchmark.owner is not None and benchmark.name
        dataset = benchmark.dataset
        raw_owner = getattr(dataset, "owner", None)
        ds_owner = owner_slug(raw_owner) if raw_owner is not None else None
        ds_name = getattr(dataset, "name", None)
        if ds_owner is None or not ds_name:
            raise InvalidArtifactError("benchmark.dataset must name an uploaded dataset (owner and name)")
        try:
            self.wire.get_dataset_v1(ds_owner, ds_name)
        except ArtifactNotFoundError as exc:
            raise InvalidArtifactError(
                f"the benchmark's dataset {ds_owner}/{ds_name} is not on the Hub (or you cannot see it)",
                hint="Upload the dataset first with client.upload_dataset(...), then the benchmark.",
            ) from exc
        if isinstance(dataset, DatasetV1) and dataset.table is not None:
            benchmark.md5sum = benchmark.compute_md5sum()
        stored = self.wire.put_benchmark(benchmark.owner.slug, benchmark.name, benchmark.to_wire())
        logger.info("Benchmark uploaded: %s", self.web_url(f"benchmarks/{benchmark.owner.slug}/{benchmark.name}"))
        return stored

    def upload_results(
        self, results: BenchmarkResults, *, access: str, owner: str | HubOwner | None
    ) -> tuple[BenchmarkResults, str | None]:
        if owner is not None:
            results.owner = HubOwner.normalize(owner)
        results.access = access  # type: ignore[assignment]
        if not results.name:
            results.name = f"results-{time.strftime('%Y%m%d-%H%M%S')}"
        if results.benchmark_artifact_id is None:
            raise InvalidArtifactError("results.benchmark_artifact_id is required (results come from evaluate())")
        body = results.to_wire()
        stored, location = self.wire.create_result(body)
        if results.owner is None and isinstance(stored.get("owner"), Mapping):
            results.owner = HubOwner.normalize(stored["owner"])
        url = self.web_url(location) if location else None
        if url:
            logger.info("Results uploaded; see them at %s", url)
        return results, url

    # ------------------------------------------------------------------ competitions
    def get_competition(self, owner: str, name: str, verify_checksum: ChecksumStrategy) -> CompetitionSpecification:
        from polaris.artifacts import CompetitionSpecification

        data = self.wire.get_competition(owner, name)
        ref = data["dataset"]
        ds_owner, ds_name = owner_slug(ref["owner"]["slug"]), str(ref["name"])
        ds_data = self.wire.get_competition_dataset(ds_owner, ds_name)
        dataset = self._load_v1(ds_owner, ds_name, ds_data, verify_checksum, kind="competitionDataset")
        competition: CompetitionSpecification = CompetitionSpecification.from_wire(
            {k: v for k, v in data.items() if k != "dataset"}, dataset=dataset
        )
        return competition

    def evaluate_competition(
        self, competition: CompetitionSpecification, predictions: CompetitionPredictions | Any
    ) -> CompetitionResults:
        from polaris.artifacts import CompetitionResults
        from polaris.artifacts.competition import CompetitionPredictions

        if not isinstance(predictions, CompetitionPredictions):
            predictions = CompetitionPredictions(
                predictions=predictions,
                target_labels=list(competition.target_cols),
                test_set_labels=competition.test_set_labels,
                test_set_sizes=competition.test_set_sizes,
            )
        if competition.owner is None or not competition.name:
            raise InvalidArtifactError("the competition needs an owner and a name (load it with get_competition)")
        owner = competition.owner.slug
        answer = self.wire.evaluate_competition(owner, competition.name, predictions.to_wire())
        result: CompetitionResults = CompetitionResults(
            results=answer["results"],
            name=predictions.name,
            competition_name=competition.name,
            competition_owner=competition.owner,
        )
        logger.info("Competition scored: %s", self.web_url(f"v2/competition/{owner}/{competition.name}/{answer['id']}"))
        return result

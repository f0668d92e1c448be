"""Benchmarks (V1 on a V1 dataset; V2 on a V2 dataset with Roaring index sets) and their results.

* get: the metadata from whichever generation answers (or the verified cached copy), then the dataset; a V2
  benchmark's two index sets are read from storage (or their direct URLs) and verified against their
  ``md5Checksum`` and row count before the cache entry is created.
* upload: V1 ``PUT /v1/benchmark/{owner}/{name}``; V2 ``PUT /v2/benchmark/{owner}/{slug}``, a write storage token
  on the benchmark URN (the answered slug), one ``PutObject`` per ``.roaring`` file.
* results: ``POST /v2/result`` for either generation.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polaris import checksum
from polaris.errors import (
    ArtifactNotFoundError,
    InvalidArtifactError,
    PartialUploadError,
    PolarisChecksumError,
    PolarisUnauthorizedError,
    StorageError,
)
from polaris.hub.cache import CacheKey
from polaris.hub.direct import is_direct_url
from polaris.hub.flows.context import NOT_PUBLIC_HINT, Fetched, FlowContext, answered_slug, record_version
from polaris.hub.flows.datasets import Datasets
from polaris.hub.wire.core import owner_and_name, owner_slug
from polaris.hub.wire.generations import Generation
from polaris.types import ChecksumStrategy, HubOwner, artifact_urn, slugify

if TYPE_CHECKING:
    from polaris.artifacts import BenchmarkResults, BenchmarkSpecification, BenchmarkV2Specification, IndexSet, Model

__all__ = ["Benchmarks", "benchmark_generation"]

logger = logging.getLogger(__name__)

ROARING_SUFFIX = ".roaring"


def benchmark_generation(data: Mapping[str, Any]) -> Generation:
    """The generation of a benchmark answer cached before entries recorded it."""
    return Generation.V2 if int(data.get("version") or 1) == 2 or "splitContent" in data else Generation.V1


class Benchmarks:
    """Benchmarks of one client: :meth:`get`, :meth:`upload`, :meth:`upload_results`."""

    def __init__(self, ctx: FlowContext, datasets: Datasets) -> None:
        self.ctx = ctx
        self.datasets = datasets

    # ------------------------------------------------------------------ get
    def get(
        self, owner: str, name: str, verify_checksum: ChecksumStrategy
    ) -> BenchmarkSpecification | BenchmarkV2Specification:
        """V1 (``/v1/benchmark``) or, on 404, V2 (``/v2/benchmark``) with its Roaring index sets."""
        fetched = self.ctx.fetch(
            "benchmark",
            owner,
            name,
            lambda: self.ctx.wire.benchmarks.get_benchmark(owner, name),
            infer=benchmark_generation,
        )
        if fetched.generation is Generation.V1:
            return self._v1(owner, name, fetched, verify_checksum)
        return self._v2(owner, name, fetched, verify_checksum)

    def _v1(self, owner: str, name: str, fetched: Fetched, verify_checksum: ChecksumStrategy) -> BenchmarkSpecification:
        from polaris.artifacts import BenchmarkSpecification, DatasetV1

        data = fetched.data
        ref = data["dataset"]
        dataset = self.datasets.get(owner_slug(ref["owner"]), str(ref["name"]), verify_checksum, parent=fetched)
        if not isinstance(dataset, DatasetV1):
            raise InvalidArtifactError(f"V1 benchmark {owner}/{name} names a V2 dataset; the Hub's answer is wrong")
        benchmark: BenchmarkSpecification = BenchmarkSpecification.from_wire(
            {k: v for k, v in data.items() if k != "dataset"}, dataset=dataset
        )
        if checksum.should_verify(verify_checksum, has_zarr=dataset.uses_zarr, version=1) and data.get("md5Sum"):
            benchmark.verify_checksum(str(data["md5Sum"]))
        if not fetched.from_cache:
            artifact_id = str(data.get("artifactId") or f"{owner}/{slugify(name)}")
            self.ctx.remember("benchmark", artifact_id, Generation.V1, data)
        return benchmark

    def _v2(
        self, owner: str, name: str, fetched: Fetched, verify_checksum: ChecksumStrategy
    ) -> BenchmarkV2Specification:
        from polaris.artifacts import BenchmarkV2Specification, DatasetV2, IndexSet, SplitV2

        data = fetched.data
        ds_id = data.get("datasetArtifactId")
        ref = data.get("dataset")
        if isinstance(ref, Mapping) and ref.get("name"):
            ds_owner, ds_name = owner_slug(ref.get("owner")), str(ref["name"])
        elif isinstance(ds_id, str):
            ds_owner, ds_name = owner_and_name(ds_id)
        else:
            raise InvalidArtifactError(f"V2 benchmark {owner}/{name}: the Hub's answer names no dataset")
        # The dataset comes first: its nRows bound the index sets before any of their bytes are read.
        dataset = self.datasets.get(ds_owner, ds_name, verify_checksum, parent=fetched)
        if not isinstance(dataset, DatasetV2):
            raise InvalidArtifactError(f"V2 benchmark {owner}/{name} must be built on a V2 dataset, not a V1 one")
        entry = (
            fetched.entry
            if fetched.entry is not None
            else self._index_sets_into_cache(owner, name, data, n_rows=dataset.n_rows)
        )
        meta = _index_set_meta(data)
        # The index sets were verified before the entry was created; they are read back with their md5 again.
        sets = {
            key: IndexSet.deserialize(
                (entry / f"{key}{ROARING_SUFFIX}").read_bytes(), expected_md5=meta[key].get("md5Checksum")
            )
            for key in ("training", "test")
        }
        cleaned = {k: v for k, v in data.items() if k not in ("split", "splitContent", "dataset")}
        benchmark: BenchmarkV2Specification = BenchmarkV2Specification.from_wire(
            cleaned, split=SplitV2(training=sets["training"], test=sets["test"]), dataset=dataset
        )
        return benchmark

    def _index_sets_into_cache(self, owner: str, name: str, data: dict[str, Any], *, n_rows: int | None) -> Path:
        """The cache entry holding both verified index sets of a V2 benchmark (read from storage on a miss).

        Each set's announced ``datapoints`` is checked against the dataset's ``n_rows`` and the byte ceiling before
        its bytes are read; the pair (overlap, range) is checked on the bitmaps before anything is written.
        """
        from polaris.artifacts.benchmark_v2 import SPLIT_KEYS, check_index_sets

        artifact_id = str(data.get("artifactId") or f"{owner}/{slugify(name)}")
        meta = _index_set_meta(data)
        md5s = [meta[k].get("md5Checksum") for k in SPLIT_KEYS]
        raw_split = data.get("split")
        split_answer: Mapping[str, Any] = raw_split if isinstance(raw_split, Mapping) else {}
        urn = artifact_urn("benchmark", owner, name)

        def fill(tmp: Path) -> None:
            tmp.mkdir(parents=True, exist_ok=True)
            limits = {key: self._index_set_limit(key, meta[key], n_rows, urn) for key in SPLIT_KEYS}
            raws: dict[str, bytes] = {}
            if not self.ctx.wire.anonymous:
                with self.ctx.storage(urn, "read") as session:
                    for key in SPLIT_KEYS:
                        raws[key] = session.read_bytes(session.token.paths[key], max_bytes=limits[key])
            else:
                for key in SPLIT_KEYS:
                    url = split_answer.get(key)
                    if not is_direct_url(url):
                        raise PolarisUnauthorizedError(
                            f"reading the index sets of {artifact_id} needs a login", hint=NOT_PUBLIC_HINT
                        )
                    expected = meta[key].get("md5Checksum")
                    raws[key] = self.ctx.direct.read_bytes(
                        str(url), expected_md5=expected, artifact=urn, max_bytes=limits[key]
                    )
            sets = {key: _load_index_set(key, meta[key], raws[key], urn) for key in SPLIT_KEYS}
            check_index_sets(sets["training"], sets["test"], n_rows=n_rows, artifact=urn)  # before caching
            for key in SPLIT_KEYS:
                (tmp / f"{key}{ROARING_SUFFIX}").write_bytes(raws[key])
            self.ctx.write_metadata(tmp, Generation.V2, data)

        if all(isinstance(m, str) for m in md5s):
            digest = hashlib.md5("".join(str(m) for m in md5s).encode()).hexdigest()
            return self.ctx.cache.fetch(CacheKey("benchmark", artifact_id, digest), fill)
        # The Hub announced no checksum: the sets are read for this call but never cached unverified.
        logger.warning("the Hub gives no checksum for the index sets of %s; they are not cached", artifact_id)
        entry = Path(tempfile.mkdtemp(prefix="polaris-benchmark-")) / "entry"
        fill(entry)
        return entry

    def _index_set_limit(self, key: str, meta: Mapping[str, Any], n_rows: int | None, urn: str) -> int:
        """Bytes the stored ``key`` set may take (its announced ``datapoints`` checked against ``n_rows`` first)."""
        from polaris.artifacts import IndexSet

        announced = IndexSet.model_validate(meta) if meta else IndexSet.model_validate({"datapoints": None})
        return announced.read_limit(
            n_rows=n_rows, max_bytes=self.ctx.settings.max_declared_bytes, artifact=f"{urn} {key}"
        )

    # ------------------------------------------------------------------ upload
    def upload(
        self,
        benchmark: BenchmarkSpecification | BenchmarkV2Specification,
        *,
        access: str,
        owner: str | HubOwner | None,
        parent_artifact_id: str | None = None,
    ) -> dict[str, Any]:
        """V1: metadata (a new version with ``parent_artifact_id``); V2: metadata, then both index sets."""
        from polaris.artifacts import BenchmarkV2Specification

        if isinstance(benchmark, BenchmarkV2Specification):
            return self._upload_v2(benchmark, access=access, owner=owner, parent=parent_artifact_id)
        return self._upload_v1(benchmark, access=access, owner=owner, parent=parent_artifact_id)

    def _upload_v1(
        self, benchmark: BenchmarkSpecification, *, access: str, owner: str | HubOwner | None, parent: str | None
    ) -> dict[str, Any]:
        from polaris.artifacts import DatasetV1

        if owner is not None:
            benchmark.owner = HubOwner.normalize(owner)
        benchmark.access = access  # type: ignore[assignment]
        if parent is not None:
            benchmark.parent_artifact_id = parent
        benchmark.check_uploadable()
        assert benchmark.owner is not None and benchmark.name
        dataset = benchmark.dataset
        if parent is None:  # a new version names a dataset the Hub already holds (checked by the Hub)
            raw_owner = getattr(dataset, "owner", None)
            ds_owner = owner_slug(raw_owner) if raw_owner is not None else None
            ds_name = getattr(dataset, "name", None)
            if ds_owner is None or not ds_name:
                raise InvalidArtifactError("benchmark.dataset must name an uploaded dataset (owner and name)")
            try:
                self.ctx.wire.datasets.get_dataset_v1(ds_owner, ds_name)
            except ArtifactNotFoundError as exc:
                raise InvalidArtifactError(
                    f"the benchmark's dataset {ds_owner}/{ds_name} is not on the Hub (or you cannot see it)",
                    hint="Upload the dataset first with client.upload_dataset(...), then the benchmark.",
                ) from exc
        if isinstance(dataset, DatasetV1) and dataset.table is not None:
            benchmark.md5sum = benchmark.compute_md5sum()
        body = benchmark.to_wire()
        if parent is None:
            owner_s, path_name = benchmark.owner.slug, benchmark.name
        else:
            body.update(benchmark.versioning_wire())
            owner_s, path_name = benchmark.owner.slug, slugify(benchmark.name)
        stored = self.ctx.wire.benchmarks.put_benchmark_v1(owner_s, path_name, body)
        if parent is not None:
            record_version(benchmark, stored, answered_slug(stored, path_name))
        logger.info("Benchmark uploaded: %s", self.ctx.web_url(f"benchmarks/{owner_s}/{path_name}"))
        return stored

    def _upload_v2(
        self,
        benchmark: BenchmarkV2Specification,
        *,
        access: str,
        owner: str | HubOwner | None,
        parent: str | None,
    ) -> dict[str, Any]:
        from polaris.artifacts import DatasetV2
        from polaris.artifacts.index_set import ROARING_CONTENT_TYPE

        if owner is not None:
            benchmark.owner = HubOwner.normalize(owner)
        benchmark.access = access  # type: ignore[assignment]
        benchmark.parent_artifact_id = parent
        benchmark.check_uploadable()
        assert benchmark.owner is not None and benchmark.name and benchmark.dataset_artifact_id
        ds_owner, ds_slug = owner_and_name(benchmark.dataset_artifact_id)
        if isinstance(benchmark.dataset, DatasetV2) and benchmark.dataset.name:
            ds_slug = benchmark.dataset.name
        try:
            self.ctx.wire.datasets.get_dataset_v2(ds_owner, ds_slug)
        except ArtifactNotFoundError as exc:
            raise InvalidArtifactError(
                f"the benchmark's V2 dataset {ds_owner}/{slugify(ds_slug)} is not on the Hub (or you cannot see it)",
                hint="Upload the V2 dataset first with client.upload_dataset(...), then the benchmark.",
            ) from exc
        body = benchmark.to_wire()
        if parent is not None or benchmark.artifact_changelog is not None:
            body.update(benchmark.versioning_wire())
        owner_s, slug = benchmark.owner.slug, slugify(benchmark.name)
        stored = self.ctx.wire.benchmarks.put_benchmark_v2(owner_s, slug, body)
        new_slug = answered_slug(stored, slug)
        sets = benchmark.split.index_sets()
        with self.ctx.storage(artifact_urn("benchmark", owner_s, new_slug), "write") as session:
            paths = session.token.paths
            for key, index_set in sets.items():
                url = paths.get(key)
                if not url:
                    raise StorageError(f"the Hub gave no storage location for the {key} set of {owner_s}/{new_slug}")
                content_type = ROARING_CONTENT_TYPE if url.endswith(ROARING_SUFFIX) else "application/octet-stream"
                try:
                    session.upload_file(url, index_set.serialize(), content_type=content_type, if_exists="replace")
                except StorageError as exc:
                    raise PartialUploadError(
                        f"the metadata of {owner_s}/{new_slug} is on the Hub but its {key} set did not upload ({exc})"
                    ) from exc
        record_version(benchmark, stored, new_slug)
        logger.info("Benchmark uploaded: %s", self.ctx.web_url(f"benchmarks/{owner_s}/{new_slug}"))
        return stored

    # ------------------------------------------------------------------ results
    def upload_results(
        self,
        results: BenchmarkResults,
        *,
        access: str,
        owner: str | HubOwner | None,
        model: Model | str | None = None,
    ) -> tuple[BenchmarkResults, str | None]:
        """``POST /v2/result``; ``model`` names the model behind them (``modelArtifactId``). Returns the results and
        the link where they can be seen."""
        if model is not None:
            model_id = model if isinstance(model, str) else model.artifact_id
            if model_id is None:
                raise InvalidArtifactError("the model needs an owner and a name to be named by results")
            results.model_artifact_id = model_id
        if owner is not None:
            results.owner = HubOwner.normalize(owner)
        results.access = access  # type: ignore[assignment]
        if not results.name:
            results.name = f"results-{time.strftime('%Y%m%d-%H%M%S')}"
        if results.benchmark_artifact_id is None:
            raise InvalidArtifactError("results.benchmark_artifact_id is required (results come from evaluate())")
        stored, location = self.ctx.wire.results.create_result_v2(results.to_wire())
        if results.owner is None and isinstance(stored.get("owner"), Mapping):
            results.owner = HubOwner.normalize(stored["owner"])
        url = self.ctx.web_url(location) if location else None
        if url:
            logger.info("Results uploaded; see them at %s", url)
        return results, url


def _index_set_meta(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{training|test: {datapoints, md5Checksum}}`` from ``splitContent`` (or object values of ``split``)."""
    from polaris.artifacts.benchmark_v2 import SPLIT_KEYS

    content = data.get("splitContent") if isinstance(data.get("splitContent"), Mapping) else None
    raw_split = data.get("split")
    split: Mapping[str, Any] = raw_split if isinstance(raw_split, Mapping) else {}
    out: dict[str, dict[str, Any]] = {}
    for key in SPLIT_KEYS:
        value = (content or {}).get(key)
        if not isinstance(value, Mapping):
            value = split.get(key) if isinstance(split.get(key), Mapping) else None
        out[key] = dict(value) if isinstance(value, Mapping) else {}
    return out


def _load_index_set(key: str, meta: Mapping[str, Any], raw: bytes, urn: str) -> IndexSet:
    """Verify one serialised index set (md5, row count) and return it; the caller checks the pair, then writes."""
    from polaris.artifacts import IndexSet

    announced = IndexSet.model_validate(meta) if meta else IndexSet.model_validate({"datapoints": None})
    try:
        return announced.load(raw, artifact=f"{urn} {key}")
    except ValueError as exc:
        if isinstance(exc, PolarisChecksumError):
            raise
        raise StorageError(f"the {key} index set of {urn} is not usable: {exc}") from exc

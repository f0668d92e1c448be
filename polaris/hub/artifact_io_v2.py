"""The flows of the 0.11-0.13 Hub on top of :class:`~polaris.hub.artifact_io.ArtifactIO`.

* **Generations**: datasets, benchmarks and competitions are read from whichever generation of the Hub's API
  answers (:mod:`polaris.hub.wire.generations`); listings merge V2 and V1.
* **V2 benchmarks**: the metadata from ``/v2/benchmark``, the dataset (a DatasetV2), and the two Roaring index sets,
  each verified against its ``md5Checksum`` (and row count) before the cache entry is created.
  Uploads: ``PUT /v2/benchmark/{owner}/{slug}``, a write storage token on the benchmark URN (answered slug), one
  ``PutObject`` per ``.roaring`` file (``Content-MD5`` + ``x-amz-meta-md5sum``).
* **Zarr competitions** (``/v1/competition``): the archive through a read storage token (paths ``root`` +
  ``manifest``) or its public ``root`` URL; predictions go to ``/v1/competition-prediction``, 0.10 competitions keep
  the ``/evaluate`` call; both give :class:`~polaris.artifacts.CompetitionResults`.
* **Models**: metadata only.
* **Versions**: ``parent_artifact_id`` makes an upload a new version; the slug the Hub answers names the storage URN.
* **Anonymous reads**: without a login, reads go out without a token and data comes from the direct URLs in the
  answers (:class:`~polaris.hub.direct.DirectReader`), verified exactly as storage-token reads are.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polaris import checksum
from polaris.errors import (
    ArtifactNotFoundError,
    HubConnectionError,
    InvalidArtifactError,
    PartialUploadError,
    PolarisChecksumError,
    PolarisHubError,
    PolarisUnauthorizedError,
    StorageError,
)
from polaris.hub.artifact_io import MANIFEST_FILE, METADATA_FILE, ZARR_DIR, ArtifactIO, _linked
from polaris.hub.cache import CacheKey
from polaris.hub.direct import DirectReader, is_direct_url
from polaris.hub.wire.core import owner_slug
from polaris.types import ChecksumStrategy, HubOwner, artifact_urn, slugify, split_artifact_id

if TYPE_CHECKING:
    from polaris.artifacts import (
        BenchmarkResults,
        BenchmarkSpecification,
        BenchmarkV2Specification,
        CompetitionResults,
        CompetitionSpecification,
        DatasetV1,
        DatasetV2,
        IndexSet,
        Model,
    )
    from polaris.artifacts.competition import CompetitionPredictions
    from polaris.hub.wire import Wire

__all__ = ["ArtifactIOV2", "DirectSession"]

logger = logging.getLogger(__name__)

#: Name of the V2 manifest object next to a Zarr root (what storage tokens name it) [inferred for direct URLs].
MANIFEST_NEXT_TO_ROOT = "zarr_manifest.parquet"
ROARING_SUFFIX = ".roaring"

_NOT_PUBLIC_HINT = (
    "Its data is not public (the Hub gave no direct URL for it). Log in with `polaris login` to read it through "
    "the Hub's storage."
)


class _Paths:
    def __init__(self, paths: Mapping[str, str]) -> None:
        self.paths = dict(paths)


class DirectSession:
    """Stands in for a read :class:`~polaris.hub.storage.StorageSession` when the data is read over direct URLs.

    ``token.paths`` holds the direct URLs; downloads verify exactly as a storage session does.
    """

    def __init__(self, reader: DirectReader, paths: Mapping[str, str]) -> None:
        self.reader = reader
        self.token = _Paths(paths)

    def download_file(
        self, url: str, dest: Path, *, expected_md5: str | None = None, artifact: str = "", **_: Any
    ) -> Path:
        return self.reader.download_file(url, dest, expected_md5=expected_md5, artifact=artifact)

    def download_zarr(
        self, store_url: str, dest: Path, *, manifest: dict[str, str] | None = None, artifact: str = "", **_: Any
    ) -> Path:
        return self.reader.download_zarr(store_url, dest, manifest=manifest, artifact=artifact)

    def read_bytes(self, url: str, *, max_bytes: int | None = None) -> bytes:
        return self.reader.read_bytes(url, max_bytes=max_bytes)


def _sibling(url: str, name: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[0] + "/" + name


class ArtifactIOV2(ArtifactIO):
    """:class:`ArtifactIO` for every Hub generation (see the module docstring).

    Args: as :class:`ArtifactIO`, plus ``direct``: the reader of public objects (created on first use).
    """

    wire: Wire

    def __init__(self, *args: Any, direct: DirectReader | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._direct = direct
        self._direct_paths: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------------ plumbing
    @property
    def direct(self) -> DirectReader:
        if self._direct is None:
            self._direct = DirectReader(
                verify=self.settings.httpx_verify(),
                timeout=self.settings.httpx_timeout(),
                max_bytes=self.settings.max_declared_bytes,
            )
        return self._direct

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()

    @contextmanager
    def storage(self, resource: str, scope: str, **options: Any) -> Iterator[Any]:
        """A storage session; without a login, a read of public data goes to its direct URLs instead.

        Raises:
            PolarisUnauthorizedError: not logged in and the Hub gave no direct URL for this data.
        """
        if scope == "read" and self.wire.anonymous:
            paths = self._direct_paths.get(resource)
            if not paths:
                raise PolarisUnauthorizedError(f"reading the data of {resource} needs a login", hint=_NOT_PUBLIC_HINT)
            yield DirectSession(self.direct, paths)
            return
        with super().storage(resource, scope, **options) as session:
            yield session

    def _note_direct(self, urn: str, data: Mapping[str, Any], keys: tuple[str, ...]) -> None:
        paths = {k: str(data[k]) for k in keys if is_direct_url(data.get(k))}
        if paths:
            self._direct_paths[urn] = paths
        else:
            self._direct_paths.pop(urn, None)  # no longer public: never reuse older URLs

    # ------------------------------------------------------------------ datasets
    def get_dataset(
        self, owner: str, name: str, verify_checksum: ChecksumStrategy, *, lazy: bool = False
    ) -> DatasetV1 | DatasetV2:
        """V1 or V2, whichever generation answers (the one that did is asked first next time).

        ``lazy``: the Zarr archive stays in storage and is read chunk by chunk (see ``open_remote_dataset``).
        """
        if lazy:
            return self.open_remote_dataset(owner, name)
        try:
            version, data = self.wire.get_dataset(owner, name)
        except HubConnectionError:
            return super().get_dataset(owner, name, verify_checksum)  # the offline path lives there
        urn = artifact_urn("dataset", owner, name)
        if version == 1:
            self._note_direct(urn, data, ("root", "extension"))
            return _linked(self._load_v1(owner, name, data, verify_checksum), self, owner, name)
        self._note_v2_root(urn, data)
        return _linked(self._load_v2(owner, name, data, verify_checksum), self, owner, name)

    def _note_v2_root(self, urn: str, data: Mapping[str, Any]) -> None:
        """Direct paths of a Zarr-only artifact: its ``root``, and the manifest next to it [inferred]."""
        if is_direct_url(data.get("root")):
            root = str(data["root"])
            self._direct_paths[urn] = {"root": root, "manifest": _sibling(root, MANIFEST_NEXT_TO_ROOT)}
        else:
            self._direct_paths.pop(urn, None)

    # ------------------------------------------------------------------ benchmarks
    def get_benchmark(  # type: ignore[override]
        self, owner: str, name: str, verify_checksum: ChecksumStrategy
    ) -> BenchmarkSpecification | BenchmarkV2Specification:
        """V1 (``/v1/benchmark``) or, on 404, V2 (``/v2/benchmark``) with its Roaring index sets."""
        try:
            version, data = self.wire.get_any_benchmark(owner, name)
        except HubConnectionError:
            offline = self._offline("benchmark", owner, name)
            if offline is None:
                raise
            data, entry = offline
            if int(data.get("version") or 1) == 2 or "splitContent" in data:
                return self._benchmark_v2_from_entry(owner, name, data, entry, verify_checksum)
            return super().get_benchmark(owner, name, verify_checksum)
        if version == 1:
            return self._benchmark_from_v1(owner, name, data, verify_checksum)
        return self._load_benchmark_v2(owner, name, data, verify_checksum)

    def _benchmark_from_v1(
        self, owner: str, name: str, data: dict[str, Any], verify_checksum: ChecksumStrategy
    ) -> BenchmarkSpecification:
        from polaris.artifacts import BenchmarkSpecification, DatasetV1

        ref = data["dataset"]
        dataset = self.get_dataset(owner_slug(ref["owner"]), str(ref["name"]), verify_checksum)
        if not isinstance(dataset, DatasetV1):
            raise InvalidArtifactError(f"V1 benchmark {owner}/{name} names a V2 dataset; the Hub's answer is wrong")
        benchmark: BenchmarkSpecification = BenchmarkSpecification.from_wire(
            {k: v for k, v in data.items() if k != "dataset"}, dataset=dataset
        )
        if checksum.should_verify(verify_checksum, has_zarr=dataset.uses_zarr, version=1) and data.get("md5Sum"):
            benchmark.verify_checksum(str(data["md5Sum"]))
        self._remember("benchmark", str(data.get("artifactId") or f"{owner}/{slugify(name)}"), data)
        return benchmark

    @staticmethod
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

    def _load_benchmark_v2(
        self, owner: str, name: str, data: dict[str, Any], verify_checksum: ChecksumStrategy
    ) -> BenchmarkV2Specification:
        from polaris.artifacts.benchmark_v2 import SPLIT_KEYS

        artifact_id = str(data.get("artifactId") or f"{owner}/{slugify(name)}")
        meta = self._index_set_meta(data)
        md5s = [meta[k].get("md5Checksum") for k in SPLIT_KEYS]
        raw_split = data.get("split")
        split_answer: Mapping[str, Any] = raw_split if isinstance(raw_split, Mapping) else {}
        urn = artifact_urn("benchmark", owner, name)
        dataset = self._benchmark_dataset(owner, name, data, verify_checksum)  # its nRows bound the index sets
        from polaris.artifacts.benchmark_v2 import check_index_sets

        def fill(tmp: Path) -> None:
            tmp.mkdir(parents=True, exist_ok=True)
            direct = self.wire.anonymous
            raws: dict[str, bytes] = {}
            limits = {key: self._index_set_limit(key, meta[key], dataset.n_rows, urn) for key in SPLIT_KEYS}
            if not direct:
                with super(ArtifactIOV2, self).storage(urn, "read") as session:
                    for key in SPLIT_KEYS:
                        raws[key] = session.read_bytes(session.token.paths[key], max_bytes=limits[key])
            else:
                for key in SPLIT_KEYS:
                    url = split_answer.get(key)
                    if not is_direct_url(url):
                        raise PolarisUnauthorizedError(
                            f"reading the index sets of {artifact_id} needs a login", hint=_NOT_PUBLIC_HINT
                        )
                    raws[key] = self.direct.read_bytes(
                        str(url), expected_md5=meta[key].get("md5Checksum"), artifact=urn, max_bytes=limits[key]
                    )
            sets = {key: self._fetch_index_set(key, meta[key], raws[key], urn) for key in SPLIT_KEYS}
            check_index_sets(sets["training"], sets["test"], n_rows=dataset.n_rows, artifact=urn)  # before caching
            for key in SPLIT_KEYS:
                (tmp / f"{key}{ROARING_SUFFIX}").write_bytes(raws[key])
            (tmp / METADATA_FILE).write_text(json.dumps(data), encoding="utf-8")

        if all(isinstance(m, str) for m in md5s):
            digest = hashlib.md5("".join(str(m) for m in md5s).encode()).hexdigest()
            entry = self.cache.fetch(CacheKey("benchmark", artifact_id, digest), fill)
        else:
            # The Hub announced no checksum: the sets are read for this call but never cached unverified.
            logger.warning("the Hub gives no checksum for the index sets of %s; they are not cached", artifact_id)
            scratch = Path(tempfile.mkdtemp(prefix="polaris-benchmark-"))
            entry = scratch / "entry"
            fill(entry)
        return self._benchmark_v2_from_entry(owner, name, data, entry, verify_checksum, dataset=dataset)

    def _index_set_limit(self, key: str, meta: Mapping[str, Any], n_rows: int | None, urn: str) -> int:
        """Bytes the stored ``key`` set may take (its announced ``datapoints`` checked against ``n_rows`` first)."""
        from polaris.artifacts import IndexSet

        announced = IndexSet.model_validate(meta) if meta else IndexSet.model_validate({"datapoints": None})
        where = f"{urn} {key}"
        return announced.read_limit(n_rows=n_rows, max_bytes=self.settings.max_declared_bytes, artifact=where)

    @staticmethod
    def _fetch_index_set(key: str, meta: Mapping[str, Any], raw: bytes, urn: str) -> IndexSet:
        """Verify one serialised index set (md5, row count) and return it (the caller checks the split)."""
        from polaris.artifacts import IndexSet

        announced = IndexSet.model_validate(meta) if meta else IndexSet.model_validate({"datapoints": None})
        try:
            return announced.load(raw, artifact=f"{urn} {key}")
        except ValueError as exc:
            if isinstance(exc, PolarisChecksumError):
                raise
            raise StorageError(f"the {key} index set of {urn} is not usable: {exc}") from exc

    def _benchmark_dataset(
        self, owner: str, name: str, data: Mapping[str, Any], verify_checksum: ChecksumStrategy
    ) -> DatasetV2:
        """The V2 dataset a V2 benchmark answer names.

        Raises:
            InvalidArtifactError: the answer names no dataset, or a V1 one.
        """
        from polaris.artifacts import DatasetV2

        ds_id = data.get("datasetArtifactId")
        ref = data.get("dataset")
        if isinstance(ref, Mapping) and ref.get("name"):
            ds_owner, ds_name = owner_slug(ref.get("owner")), str(ref["name"])
        elif isinstance(ds_id, str):
            ds_owner, ds_name = split_artifact_id(ds_id)
        else:
            raise InvalidArtifactError(f"V2 benchmark {owner}/{name}: the Hub's answer names no dataset")
        dataset = self.get_dataset(ds_owner, ds_name, verify_checksum)
        if not isinstance(dataset, DatasetV2):
            raise InvalidArtifactError(f"V2 benchmark {owner}/{name} must be built on a V2 dataset, not a V1 one")
        return dataset

    def _benchmark_v2_from_entry(
        self,
        owner: str,
        name: str,
        data: Mapping[str, Any],
        entry: Path,
        verify_checksum: ChecksumStrategy,
        *,
        dataset: DatasetV2 | None = None,
    ) -> BenchmarkV2Specification:
        from polaris.artifacts import BenchmarkV2Specification, IndexSet, SplitV2

        meta = self._index_set_meta(data)
        sets = {
            key: IndexSet.deserialize(
                (entry / f"{key}{ROARING_SUFFIX}").read_bytes(), expected_md5=meta[key].get("md5Checksum")
            )
            for key in ("training", "test")
        }
        if dataset is None:
            dataset = self._benchmark_dataset(owner, name, data, verify_checksum)
        cleaned = {k: v for k, v in data.items() if k not in ("split", "splitContent", "dataset")}
        benchmark: BenchmarkV2Specification = BenchmarkV2Specification.from_wire(
            cleaned, split=SplitV2(training=sets["training"], test=sets["test"]), dataset=dataset
        )
        return benchmark

    def upload_benchmark(
        self,
        benchmark: BenchmarkSpecification | BenchmarkV2Specification,
        *,
        access: str,
        owner: str | HubOwner | None,
        parent_artifact_id: str | None = None,
    ) -> dict[str, Any]:
        """V1 as before (new version with ``parent_artifact_id``); V2: metadata, then both index sets."""
        from polaris.artifacts import BenchmarkV2Specification

        if isinstance(benchmark, BenchmarkV2Specification):
            return self._upload_benchmark_v2(benchmark, access=access, owner=owner, parent=parent_artifact_id)
        if parent_artifact_id is None:
            return super().upload_benchmark(benchmark, access=access, owner=owner)
        if owner is not None:
            benchmark.owner = HubOwner.normalize(owner)
        benchmark.access = access  # type: ignore[assignment]
        benchmark.parent_artifact_id = parent_artifact_id
        benchmark.check_uploadable()
        assert benchmark.owner is not None and benchmark.name
        from polaris.artifacts import DatasetV1

        if isinstance(benchmark.dataset, DatasetV1) and benchmark.dataset.table is not None:
            benchmark.md5sum = benchmark.compute_md5sum()
        body = benchmark.to_wire()
        body.update(benchmark.versioning_wire())
        stored = self.wire.put_benchmark(benchmark.owner.slug, slugify(benchmark.name), body)
        self._after_version_upload(benchmark, stored, self._answered_slug(stored, slugify(benchmark.name)))
        return stored

    def _upload_benchmark_v2(
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
        ds_owner, ds_slug = split_artifact_id(benchmark.dataset_artifact_id)
        if isinstance(benchmark.dataset, DatasetV2) and benchmark.dataset.name:
            ds_slug = benchmark.dataset.name
        try:
            self.wire.get_dataset_v2(ds_owner, ds_slug)
        except ArtifactNotFoundError as exc:
            raise InvalidArtifactError(
                f"the benchmark's V2 dataset {ds_owner}/{slugify(ds_slug)} is not on the Hub (or you cannot see it)",
                hint="Upload the V2 dataset first with client.upload_dataset(...), then the benchmark.",
            ) from exc
        body = benchmark.to_wire()
        if parent is not None or benchmark.artifact_changelog is not None:
            body.update(benchmark.versioning_wire())
        owner_s, slug = benchmark.owner.slug, slugify(benchmark.name)
        stored = self.wire.put_benchmark_v2(owner_s, slug, body)
        new_slug = self._answered_slug(stored, slug)
        sets = benchmark.split.index_sets()
        with self.storage(artifact_urn("benchmark", owner_s, new_slug), "write") as session:
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
        self._after_version_upload(benchmark, stored, new_slug)
        logger.info("Benchmark uploaded: %s", self.web_url(f"benchmarks/{owner_s}/{new_slug}"))
        return stored

    def upload_results(
        self,
        results: BenchmarkResults,
        *,
        access: str,
        owner: str | HubOwner | None,
        model: Model | str | None = None,
    ) -> tuple[BenchmarkResults, str | None]:
        """As :meth:`ArtifactIO.upload_results`; ``model`` names the model behind them (``modelArtifactId``)."""
        if model is not None:
            model_id = model if isinstance(model, str) else model.artifact_id
            if model_id is None:
                raise InvalidArtifactError("the model needs an owner and a name to be named by results")
            results.model_artifact_id = model_id
        return super().upload_results(results, access=access, owner=owner)

    # ------------------------------------------------------------------ competitions
    def get_competition(self, owner: str, name: str, verify_checksum: ChecksumStrategy) -> CompetitionSpecification:
        """A 0.11+ Zarr competition (``/v1/competition``) or, on 404, a 0.10 one (``/v2/competition``)."""
        generation, data = self.wire.get_any_competition(owner, name)
        if generation == "0.10":
            return self._competition_0_10(data, verify_checksum)
        return self._load_zarr_competition(owner, name, data)

    def _competition_0_10(self, data: dict[str, Any], verify_checksum: ChecksumStrategy) -> CompetitionSpecification:
        from polaris.artifacts import CompetitionSpecification

        ref = data["dataset"]
        ds_owner, ds_name = owner_slug(ref["owner"]), str(ref["name"])
        ds_data = self.wire.get_competition_dataset(ds_owner, ds_name)
        self._note_direct(artifact_urn("dataset", ds_owner, ds_name), ds_data, ("root",))
        dataset = self._load_v1(ds_owner, ds_name, ds_data, verify_checksum, kind="competitionDataset")
        competition: CompetitionSpecification = CompetitionSpecification.from_wire(
            {k: v for k, v in data.items() if k != "dataset"}, dataset=dataset
        )
        return competition

    def _load_zarr_competition(self, owner: str, name: str, data: dict[str, Any]) -> CompetitionSpecification:
        from polaris.artifacts import DatasetV2, ZarrCompetitionSpecification

        artifact_id = str(data.get("artifactId") or f"{owner}/{slugify(name)}")
        urn = artifact_urn("competition", owner, name)
        manifest_md5 = data.get("zarrManifestMd5Sum")
        if not isinstance(manifest_md5, str) or not checksum.is_md5(manifest_md5):
            content = data.get("zarrManifestFileContent")
            manifest_md5 = content.get("md5Sum") if isinstance(content, Mapping) else None
        self._note_v2_root(urn, data)

        def fill(tmp: Path) -> None:
            tmp.mkdir(parents=True, exist_ok=True)
            with self.storage(urn, "read") as session:
                paths = session.token.paths
                manifest: dict[str, str] | None = None
                if paths.get("manifest") and isinstance(manifest_md5, str):
                    session.download_file(
                        paths["manifest"], tmp / MANIFEST_FILE, expected_md5=manifest_md5, artifact=artifact_id
                    )
                    manifest = checksum.read_zarr_manifest(tmp / MANIFEST_FILE)
                session.download_zarr(paths["root"], tmp / ZARR_DIR, manifest=manifest, artifact=artifact_id)
            DatasetV2.from_wire(data, zarr_root_path=str(tmp / ZARR_DIR))  # checks the layout before caching
            (tmp / METADATA_FILE).write_text(json.dumps(data), encoding="utf-8")

        if isinstance(manifest_md5, str):
            entry = self.cache.fetch(CacheKey("competition", artifact_id, manifest_md5), fill)
        else:
            logger.warning("the Hub gives no manifest checksum for competition %s; it is not cached", artifact_id)
            entry = Path(tempfile.mkdtemp(prefix="polaris-competition-")) / "entry"
            fill(entry)
        dataset = DatasetV2.from_wire(data, zarr_root_path=str(entry / ZARR_DIR))
        competition: ZarrCompetitionSpecification = ZarrCompetitionSpecification.from_wire(
            {k: v for k, v in data.items() if k != "dataset"}, dataset=dataset
        )
        return competition

    def evaluate_competition(
        self,
        competition: CompetitionSpecification,
        predictions: CompetitionPredictions | Any,
        *,
        name: str | None = None,
        owner: str | HubOwner | None = None,
        report_url: str | None = None,
        description: str | None = None,
    ) -> CompetitionResults:
        """0.10 competitions: the ``/evaluate`` call; 0.11+ ones: ``POST /v1/competition-prediction``."""
        from polaris.artifacts import CompetitionResults, ZarrCompetitionSpecification
        from polaris.artifacts.competition import CompetitionPredictions

        if not isinstance(competition, ZarrCompetitionSpecification):
            return super().evaluate_competition(competition, predictions)
        if competition.owner is None or not competition.name or competition.artifact_id is None:
            raise InvalidArtifactError("the competition needs an owner and a name (load it with get_competition)")
        if not isinstance(predictions, CompetitionPredictions):
            predictions = CompetitionPredictions(
                predictions=predictions,
                target_labels=list(competition.target_cols),
                test_set_labels=competition.test_set_labels,
                test_set_sizes=competition.test_set_sizes,
            )
        updates: dict[str, Any] = {}
        if name is not None or predictions.name is None:
            updates["name"] = name or f"predictions-{time.strftime('%Y%m%d-%H%M%S')}"
        if owner is not None:
            updates["owner"] = HubOwner.normalize(owner)
        if report_url is not None:
            updates["paper_url"] = report_url
        if description is not None:
            updates["description"] = description
        if updates:
            predictions = predictions.model_copy(update=updates)
        answer, location = self.wire.create_competition_prediction(
            predictions.to_prediction_wire(competition.artifact_id)
        )
        records = answer.get("results")
        if not records:
            raise PolarisHubError(
                f"the Hub accepted the predictions for {competition.artifact_id} but sent no scores",
                hint="See the competition's page on the Hub for the scores.",
            )
        result: CompetitionResults = CompetitionResults(
            results=records,
            name=predictions.name,
            competition_name=competition.name,
            competition_owner=competition.owner,
        )
        where = self.web_url(location) if location else self.web_url(f"competitions/{competition.artifact_id}")
        logger.info("Competition scored: %s", where)
        return result

    # ------------------------------------------------------------------ models
    def get_model(self, owner: str, name: str) -> Model:
        from polaris.artifacts import Model

        model: Model = Model.from_wire(self.wire.get_model(owner, name))
        return model

    def upload_model(
        self,
        model: Model,
        *,
        access: str,
        owner: str | HubOwner | None,
        parent_artifact_id: str | None = None,
    ) -> dict[str, Any]:
        if owner is not None:
            model.owner = HubOwner.normalize(owner)
        model.access = access  # type: ignore[assignment]
        model.parent_artifact_id = parent_artifact_id
        model.check_uploadable()
        assert model.owner is not None and model.name
        body: dict[str, Any] = {"access": access, **model.to_wire(), "parentArtifactId": parent_artifact_id}
        stored, location = self.wire.put_model(model.owner.slug, slugify(model.name), body)
        version = stored.get("artifactVersion")
        if isinstance(version, int):
            model.artifact_version = version
        where = self.web_url(location) if location else self.web_url(f"models/{model.artifact_id}")
        logger.info("Model uploaded: %s", where)
        return stored

"""Competitions of both generations, and their scoring.

* ``Generation.V1`` (``/v1/competition``, 0.11+): the competition is itself a Zarr archive, read through a read
  storage token (paths ``root`` + ``manifest``) or its public ``root`` URL into the cache; predictions go to
  ``POST /v1/competition-prediction``.
* ``Generation.V2`` (``/v2/competition``, 0.10): the metadata plus a V1-layout dataset
  (``/v2/competition/dataset``, cached as ``competitionDataset``); predictions go to its ``/evaluate`` call.

Both give :class:`~polaris.artifacts.CompetitionResults`; both are served from the verified cache when the Hub
cannot be used (:meth:`~polaris.hub.flows.context.FlowContext.fetch`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polaris import checksum_md5, checksum_zarr
from polaris.errors import InvalidArtifactError, PolarisHubError
from polaris.hub.cache import CacheKey
from polaris.hub.flows.context import MANIFEST_FILE, ZARR_DIR, Fetched, FlowContext
from polaris.hub.flows.datasets import Datasets
from polaris.hub.wire.core import owner_slug
from polaris.hub.wire.generations import Generation
from polaris.types import ChecksumStrategy, HubOwner, artifact_urn, slugify

if TYPE_CHECKING:
    from polaris.artifacts import CompetitionResults, CompetitionSpecification
    from polaris.artifacts.competition import CompetitionPredictions

__all__ = ["Competitions", "competition_generation"]

logger = logging.getLogger(__name__)

#: Cache kind of a 0.10 competition's dataset.
COMPETITION_DATASET = "competitionDataset"


def competition_generation(data: Mapping[str, Any]) -> Generation:
    """The generation of a competition answer cached before entries recorded it (0.10 ones name a dataset)."""
    return Generation.V2 if isinstance(data.get("dataset"), Mapping) else Generation.V1


class Competitions:
    """Competitions of one client: :meth:`get`, :meth:`evaluate`."""

    def __init__(self, ctx: FlowContext, datasets: Datasets) -> None:
        self.ctx = ctx
        self.datasets = datasets

    # ------------------------------------------------------------------ get
    def get(self, owner: str, name: str, verify_checksum: ChecksumStrategy) -> CompetitionSpecification:
        """A 0.11+ Zarr competition (``/v1/competition``) or, on 404, a 0.10 one (``/v2/competition``)."""
        fetched = self.ctx.fetch(
            "competition",
            owner,
            name,
            lambda: self.ctx.wire.competitions.get_competition(owner, name),
            infer=competition_generation,
        )
        if fetched.generation is Generation.V2:
            return self._v2(owner, name, fetched, verify_checksum)
        return self._v1(owner, name, fetched)

    def _v2(
        self, owner: str, name: str, fetched: Fetched, verify_checksum: ChecksumStrategy
    ) -> CompetitionSpecification:
        from polaris.artifacts import CompetitionSpecification

        data = fetched.data
        ref = data["dataset"]
        ds_owner, ds_name = owner_slug(ref["owner"]), str(ref["name"])

        def ask_hub() -> tuple[Generation, dict[str, Any]]:
            return Generation.V2, self.ctx.wire.competitions.get_competition_dataset_v2(ds_owner, ds_name)

        ds_fetched = self.ctx.fetch(
            COMPETITION_DATASET,
            ds_owner,
            ds_name,
            ask_hub,
            infer=lambda _: Generation.V2,
            parent=fetched,
        )
        if ds_fetched.entry is not None:
            dataset = self.datasets.v1_from_entry(ds_fetched.data, ds_fetched.entry, kind=COMPETITION_DATASET)
        else:
            self.ctx.note_direct(artifact_urn("dataset", ds_owner, ds_name), ds_fetched.data, ("root",))
            dataset = self.datasets.load_v1(ds_owner, ds_name, ds_fetched, verify_checksum, kind=COMPETITION_DATASET)
        if not fetched.from_cache:
            self.ctx.remember("competition", f"{owner}/{slugify(name)}", Generation.V2, data)
        competition: CompetitionSpecification = CompetitionSpecification.from_wire(
            {k: v for k, v in data.items() if k != "dataset"}, dataset=dataset
        )
        return competition

    def _v1(self, owner: str, name: str, fetched: Fetched) -> CompetitionSpecification:
        from polaris.artifacts import DatasetV2, ZarrCompetitionSpecification

        data = fetched.data
        entry = fetched.entry if fetched.entry is not None else self._archive_into_cache(owner, name, data)
        dataset = DatasetV2.from_wire(
            data, zarr_root_path=str(entry / ZARR_DIR), max_declared_bytes=self.ctx.settings.max_declared_bytes
        )
        competition: ZarrCompetitionSpecification = ZarrCompetitionSpecification.from_wire(
            {k: v for k, v in data.items() if k != "dataset"}, dataset=dataset
        )
        return competition

    def _archive_into_cache(self, owner: str, name: str, data: dict[str, Any]) -> Path:
        from polaris.artifacts import DatasetV2

        artifact_id = str(data.get("artifactId") or f"{owner}/{slugify(name)}")
        urn = artifact_urn("competition", owner, name)
        manifest_md5 = data.get("zarrManifestMd5Sum")
        if not isinstance(manifest_md5, str) or not checksum_md5.is_md5(manifest_md5):
            content = data.get("zarrManifestFileContent")
            manifest_md5 = content.get("md5Sum") if isinstance(content, Mapping) else None
        self.ctx.note_zarr_root(urn, data)

        def fill(tmp: Path) -> None:
            tmp.mkdir(parents=True, exist_ok=True)
            with self.ctx.storage(urn, "read") as session:
                paths = session.token.paths
                manifest: dict[str, str] | None = None
                if paths.get("manifest") and isinstance(manifest_md5, str):
                    session.download_file(
                        paths["manifest"], tmp / MANIFEST_FILE, expected_md5=manifest_md5, artifact=artifact_id
                    )
                    manifest = checksum_zarr.read_zarr_manifest(tmp / MANIFEST_FILE)
                session.download_zarr(
                    paths["root"],
                    tmp / ZARR_DIR,
                    manifest=manifest,
                    artifact=artifact_id,
                    max_bytes=self.ctx.settings.max_declared_bytes,
                )
            DatasetV2.from_wire(  # checks the layout (and the declared sizes) before caching
                data, zarr_root_path=str(tmp / ZARR_DIR), max_declared_bytes=self.ctx.settings.max_declared_bytes
            )
            self.ctx.write_metadata(tmp, Generation.V1, data)

        if isinstance(manifest_md5, str):
            return self.ctx.cache.fetch(CacheKey("competition", artifact_id, manifest_md5), fill)
        logger.warning("the Hub gives no manifest checksum for competition %s; it is not cached", artifact_id)
        entry = Path(tempfile.mkdtemp(prefix="polaris-competition-")) / "entry"
        fill(entry)
        return entry

    # ------------------------------------------------------------------ evaluate
    def evaluate(
        self,
        competition: CompetitionSpecification,
        predictions: CompetitionPredictions | Any,
        *,
        name: str | None = None,
        owner: str | HubOwner | None = None,
        report_url: str | None = None,
        description: str | None = None,
    ) -> CompetitionResults:
        """0.11+ (Zarr) competitions: ``POST /v1/competition-prediction``; 0.10 ones: the ``/evaluate`` call."""
        from polaris.artifacts import ZarrCompetitionSpecification
        from polaris.artifacts.competition import CompetitionPredictions

        if not isinstance(predictions, CompetitionPredictions):
            predictions = CompetitionPredictions(
                predictions=predictions,
                target_labels=list(competition.target_cols),
                test_set_labels=competition.test_set_labels,
                test_set_sizes=competition.test_set_sizes,
            )
        if isinstance(competition, ZarrCompetitionSpecification):
            return self._evaluate_v1(competition, predictions, name, owner, report_url, description)
        return self._evaluate_v2(competition, predictions)

    def _evaluate_v2(
        self, competition: CompetitionSpecification, predictions: CompetitionPredictions
    ) -> CompetitionResults:
        from polaris.artifacts import CompetitionResults

        if competition.owner is None or not competition.name:
            raise InvalidArtifactError("the competition needs an owner and a name (load it with get_competition)")
        owner = competition.owner.slug
        answer = self.ctx.wire.competitions.evaluate_competition_v2(owner, competition.name, predictions.to_wire())
        result: CompetitionResults = CompetitionResults(
            results=answer["results"],
            name=predictions.name,
            competition_name=competition.name,
            competition_owner=competition.owner,
        )
        where = self.ctx.web_url(f"v2/competition/{owner}/{competition.name}/{answer['id']}")
        logger.info("Competition scored: %s", where)
        return result

    def _evaluate_v1(
        self,
        competition: CompetitionSpecification,
        predictions: CompetitionPredictions,
        name: str | None,
        owner: str | HubOwner | None,
        report_url: str | None,
        description: str | None,
    ) -> CompetitionResults:
        from polaris.artifacts import CompetitionResults

        if competition.owner is None or not competition.name or competition.artifact_id is None:
            raise InvalidArtifactError("the competition needs an owner and a name (load it with get_competition)")
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
        answer, location = self.ctx.wire.competitions.create_competition_prediction_v1(
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
        where = self.ctx.web_url(location) if location else self.ctx.web_url(f"competitions/{competition.artifact_id}")
        logger.info("Competition scored: %s", where)
        return result

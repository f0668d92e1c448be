"""Competitions on the wire: the 0.10 ``/v2/competition*`` operations and the 0.11+ ``/v1/competition*`` ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polaris.errors import PolarisHubError
from polaris.hub.wire._listing import summary_from_item
from polaris.hub.wire.core import Page, WireCore, owner_slug
from polaris.hub.wire.generations import Generation, first_answer

__all__ = ["CompetitionsWire"]


class CompetitionsWire:
    """``/v2/competition*`` (0.10) and ``/v1/competition*`` (0.11+), sent through one
    :class:`~polaris.hub.wire.core.WireCore`."""

    def __init__(self, core: WireCore) -> None:
        self.core = core

    def list_competitions(self, *, limit: int, offset: int) -> Page:
        """``GET /v2/competition`` (0.10): ``owner/name`` of each competition. A Hub without that listing (0.11+
        Hubs fetch competitions by id only) lists none; that is learned once per client.

        Raises: see :meth:`WireCore.call_detailed`.
        """
        from polaris_hub_api.api.competitions import list_competitions
        from polaris_hub_api.models.competition_list import CompetitionList

        if self.core.generations.is_absent("list-competitions@0.10"):
            return Page(items=[], total=0, limit=limit, offset=offset)
        try:
            result = self.core.call_detailed(
                "GET", "/v2/competition", list_competitions.sync_detailed, read=True, limit=limit, offset=offset
            )
        except PolarisHubError as exc:
            if exc.status_code != 404:
                raise
            self.core.generations.mark_absent("list-competitions@0.10")
            return Page(items=[], total=0, limit=limit, offset=offset)
        parsed = result.parsed
        if not isinstance(parsed, CompetitionList):
            raise PolarisHubError("GET /v2/competition: the Hub's answer is not a competition list")
        items = [f"{owner_slug(item.owner)}/{item.name}" for item in parsed.data]
        # 0.11-style competitions (a Zarr archive: zarrManifestMd5Sum) are format V2, the 0.10 ones V1
        entries = tuple(
            summary_from_item("competition", item, version=2 if "zarrManifestMd5Sum" in item.to_dict() else 1)
            for item in parsed.data
        )
        return Page(items=items, total=parsed.metadata.total, limit=limit, offset=offset, entries=entries)

    def get_competition_v2(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v2/competition/{owner}/{name}`` (0.10). Raises: see :meth:`WireCore.call_detailed`."""
        from polaris_hub_api.api.competitions import get_competition

        path = f"/v2/competition/{owner}/{name}"
        return self.core.json_call("GET", path, get_competition.sync_detailed, read=True, owner=owner, name=name)[0]

    def get_competition_v1(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v1/competition/{owner}/{name}`` (0.11+, Zarr-backed). Raises: see :meth:`WireCore.call_detailed`."""
        from polaris_hub_api.api.competitions import get_competition_v1

        path = f"/v1/competition/{owner}/{name}"
        return self.core.json_call("GET", path, get_competition_v1.sync_detailed, read=True, owner=owner, name=name)[0]

    def get_competition(self, owner: str, name: str) -> tuple[Generation, dict[str, Any]]:
        """``/v1/competition`` (0.11+, Zarr) first, ``/v2/competition`` (0.10) on 404; returns which, and the answer.

        Raises: see :meth:`WireCore.call_detailed` (404 from both -> ArtifactNotFoundError).
        """
        return first_answer(
            self.core.generations,
            "get-competition",
            [
                (Generation.V1, lambda: self.get_competition_v1(owner, name)),
                (Generation.V2, lambda: self.get_competition_v2(owner, name)),
            ],
        )

    def get_competition_dataset_v2(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v2/competition/dataset/{owner}/{name}`` (0.10). Raises: see :meth:`WireCore.call_detailed`."""
        from polaris_hub_api.api.competitions import get_competition_dataset

        path = f"/v2/competition/dataset/{owner}/{name}"
        return self.core.json_call(
            "GET", path, get_competition_dataset.sync_detailed, read=True, owner=owner, name=name
        )[0]

    def evaluate_competition_v2(self, owner: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v2/competition/{owner}/{name}/evaluate`` with snake_case predictions (0.10).

        Raises: see :meth:`WireCore.call_detailed`.
        """
        from polaris_hub_api.api.competitions import evaluate_competition
        from polaris_hub_api.models import CompetitionPredictions

        path = f"/v2/competition/{owner}/{name}/evaluate"
        return self.core.json_call(
            "POST",
            path,
            evaluate_competition.sync_detailed,
            body_model=CompetitionPredictions,
            body=body,
            owner=owner,
            name=name,
        )[0]

    def create_competition_prediction_v1(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """``POST /v1/competition-prediction`` (0.11+, camelCase body); returns the answer (scores when the Hub
        sends them; ``{}`` for a bodiless 2xx) and its ``Content-Location``.

        Raises: see :meth:`WireCore.call_detailed`.
        """
        from polaris_hub_api.api.competitions import create_competition_prediction_v1
        from polaris_hub_api.models import CompetitionPredictionUpload

        data, headers = self.core.json_call(
            "POST",
            "/v1/competition-prediction",
            create_competition_prediction_v1.sync_detailed,
            body_model=CompetitionPredictionUpload,
            body=body,
            allow_empty=True,
        )
        return data, headers.get("content-location")

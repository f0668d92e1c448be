"""Datasets on the wire: V1 (table + optional Zarr) and V2 (Zarr only), listings of both generations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polaris.errors import PolarisHubError
from polaris.hub.wire._listing import merged_listing, summary_from_item
from polaris.hub.wire.core import Page, WireCore
from polaris.hub.wire.generations import Generation, first_answer

__all__ = ["DatasetsWire"]

#: Generation keys of the listing endpoints (see :mod:`polaris.hub.wire.generations`).
LIST_DATASETS_V2 = "list-datasets"


class DatasetsWire:
    """``/v1/dataset`` and ``/v2/dataset`` operations, sent through one :class:`~polaris.hub.wire.core.WireCore`."""

    def __init__(self, core: WireCore) -> None:
        self.core = core

    # ---------------------------------------------------------------- listings
    def list_datasets_v1(self, *, limit: int, offset: int) -> Page:
        """``GET /v1/dataset``: ``artifactId`` of each V1 dataset.

        Raises: see :meth:`WireCore.call_detailed`.
        """
        from polaris_hub_api.api.datasets import list_datasets_v1
        from polaris_hub_api.models.dataset_v1_list import DatasetV1List

        result = self.core.call_detailed(
            "GET", "/v1/dataset", list_datasets_v1.sync_detailed, read=True, limit=limit, offset=offset
        )
        parsed = result.parsed
        if not isinstance(parsed, DatasetV1List):
            raise PolarisHubError("GET /v1/dataset: the Hub's answer is not a dataset list")
        entries = tuple(summary_from_item("dataset", item, version=1) for item in parsed.data)
        items = [item.artifact_id for item in parsed.data]
        return Page(items=items, total=parsed.metadata.total, limit=limit, offset=offset, entries=entries)

    def list_datasets_v2(self, *, limit: int, offset: int) -> Page:
        """``GET /v2/dataset`` (0.11+): ``artifactId`` of each V2 dataset; ``metadata.total`` is required.

        Raises: see :meth:`WireCore.call_detailed`.
        """
        from polaris_hub_api.api.datasets import list_datasets_v2
        from polaris_hub_api.models.dataset_v2_list import DatasetV2List

        result = self.core.call_detailed(
            "GET", "/v2/dataset", list_datasets_v2.sync_detailed, read=True, limit=limit, offset=offset
        )
        parsed = result.parsed
        if not isinstance(parsed, DatasetV2List):
            raise PolarisHubError("GET /v2/dataset: the Hub's answer is not a dataset list")
        entries = tuple(summary_from_item("dataset", item, version=2) for item in parsed.data)
        return Page(
            items=[e.artifact_id for e in entries],
            total=parsed.metadata.total,
            limit=limit,
            offset=offset,
            entries=entries,
        )

    def list_datasets(self, *, limit: int, offset: int) -> Page:
        """V2 datasets first, then V1 (0.11+ paging rule); V1 only on a Hub without the V2 listing (learned once).

        Raises: see :meth:`WireCore.call_detailed`.
        """

        def v2(lim: int, off: int) -> Page:
            return self.list_datasets_v2(limit=lim, offset=off)

        def v1(lim: int, off: int) -> Page:
            return self.list_datasets_v1(limit=lim, offset=off)

        return merged_listing(self.core.generations, LIST_DATASETS_V2, v2, v1, limit=limit, offset=offset)

    # ---------------------------------------------------------------- one dataset
    def get_dataset_v1(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v1/dataset/{owner}/{name}``. Raises: see :meth:`WireCore.call_detailed` (404: not found)."""
        from polaris_hub_api.api.datasets import get_dataset_v1

        path = f"/v1/dataset/{owner}/{name}"
        return self.core.json_call("GET", path, get_dataset_v1.sync_detailed, read=True, owner=owner, name=name)[0]

    def get_dataset_v2(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v2/dataset/{owner}/{name}``. Raises: see :meth:`WireCore.call_detailed`."""
        from polaris_hub_api.api.datasets import get_dataset_v2

        path = f"/v2/dataset/{owner}/{name}"
        return self.core.json_call("GET", path, get_dataset_v2.sync_detailed, read=True, owner=owner, name=name)[0]

    def get_dataset(self, owner: str, name: str) -> tuple[Generation, dict[str, Any]]:
        """V1, then V2 on 404 (the generation that answered is tried first next time); returns which, and the answer.

        Raises: see :meth:`WireCore.call_detailed` (404 from both -> ArtifactNotFoundError).
        """
        return first_answer(
            self.core.generations,
            "get-dataset",
            [
                (Generation.V1, lambda: self.get_dataset_v1(owner, name)),
                (Generation.V2, lambda: self.get_dataset_v2(owner, name)),
            ],
        )

    def put_dataset_v1(self, owner: str, slug: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v1/dataset/{owner}/{slug}`` (the slug in the path). Raises: see :meth:`WireCore.call_detailed`."""
        from polaris_hub_api.api.datasets import put_dataset_v1
        from polaris_hub_api.models import DatasetV1Upload

        path = f"/v1/dataset/{owner}/{slug}"
        return self.core.json_call(
            "PUT", path, put_dataset_v1.sync_detailed, body_model=DatasetV1Upload, body=body, owner=owner, name=slug
        )[0]

    def put_dataset_v2(self, owner: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v2/dataset/{owner}/{name}`` (the name in the path). Raises: see :meth:`WireCore.call_detailed`."""
        from polaris_hub_api.api.datasets import put_dataset_v2
        from polaris_hub_api.models import DatasetV2Upload

        path = f"/v2/dataset/{owner}/{name}"
        return self.core.json_call(
            "PUT", path, put_dataset_v2.sync_detailed, body_model=DatasetV2Upload, body=body, owner=owner, name=name
        )[0]

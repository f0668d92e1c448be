"""Models on the wire (0.11.9+): ``PUT /v2/model/{owner}/{slug}`` (0.12) or ``POST /v2/model`` (0.11.9), reads, list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polaris.errors import PolarisHubError
from polaris.hub.wire._listing import summary_from_item
from polaris.hub.wire.core import Page, WireCore
from polaris.hub.wire.generations import WRITE_FALLBACK_STATUSES

__all__ = ["ModelsWire"]


class ModelsWire:
    """``/v2/model`` operations, sent through one :class:`~polaris.hub.wire.core.WireCore`."""

    def __init__(self, core: WireCore) -> None:
        self.core = core

    def list_models(self, *, limit: int, offset: int) -> Page:
        """``GET /v2/model`` (0.12+): ``artifactId`` of each model. A Hub without it lists none (learned once).

        Raises: see :meth:`WireCore.call_detailed`.
        """
        from polaris_hub_api.api.models import list_models_v2
        from polaris_hub_api.models.model_list import ModelList

        if self.core.generations.is_absent("list-models@v2"):
            return Page(items=[], total=0, limit=limit, offset=offset)
        try:
            result = self.core.call_detailed(
                "GET", "/v2/model", list_models_v2.sync_detailed, read=True, limit=limit, offset=offset
            )
        except PolarisHubError as exc:
            if exc.status_code not in WRITE_FALLBACK_STATUSES:
                raise
            self.core.generations.mark_absent("list-models@v2")
            return Page(items=[], total=0, limit=limit, offset=offset)
        parsed = result.parsed
        if not isinstance(parsed, ModelList):
            raise PolarisHubError("GET /v2/model: the Hub's answer is not a model list")
        entries = tuple(summary_from_item("model", item, version=1) for item in parsed.data)
        return Page(
            items=[e.artifact_id for e in entries],
            total=parsed.metadata.total,
            limit=limit,
            offset=offset,
            entries=entries,
        )

    def get_model_v2(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v2/model/{owner}/{name}`` (models have one generation). Raises: see :meth:`WireCore.call_detailed`."""
        from polaris_hub_api.api.models import get_model_v2

        path = f"/v2/model/{owner}/{name}"
        return self.core.json_call("GET", path, get_model_v2.sync_detailed, read=True, owner=owner, name=name)[0]

    def put_model(self, owner: str, slug: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """``PUT /v2/model/{owner}/{slug}`` (0.12+), else ``POST /v2/model`` (0.11.9) on 404/405 (learned once).

        Returns the stored model (``{}`` for a bodiless 2xx) and its ``Content-Location``.

        Raises: see :meth:`WireCore.call_detailed`.
        """
        from polaris_hub_api.api.models import create_model_v2, put_model_v2
        from polaris_hub_api.models import ModelUpload

        def put() -> tuple[dict[str, Any], Mapping[str, str]]:
            return self.core.json_call(
                "PUT",
                f"/v2/model/{owner}/{slug}",
                put_model_v2.sync_detailed,
                body_model=ModelUpload,
                body=body,
                allow_empty=True,
                owner=owner,
                name=slug,
            )

        def post() -> tuple[dict[str, Any], Mapping[str, str]]:
            legacy = {k: v for k, v in body.items() if k not in ("parentArtifactId", "artifactChangelog")}
            return self.core.json_call(
                "POST",
                "/v2/model",
                create_model_v2.sync_detailed,
                body_model=ModelUpload,
                body=legacy,
                allow_empty=True,
            )

        _, (data, headers) = self.core.generations.call(
            "put-model", [("0.12", put), ("0.11", post)], fallback_on=WRITE_FALLBACK_STATUSES
        )
        return data, headers.get("content-location")

"""Models (0.11.9+ Hubs): metadata only, ``/v2/model``; kept in the cache so they load offline too."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from polaris.hub.flows.context import FlowContext
from polaris.hub.wire.generations import Generation
from polaris.types import HubOwner, slugify

if TYPE_CHECKING:
    from polaris.artifacts import Model

__all__ = ["Models"]

logger = logging.getLogger(__name__)


def _model_generation(_: Mapping[str, Any]) -> Generation:
    return Generation.V2  # models have one generation


class Models:
    """Models of one client: :meth:`get`, :meth:`upload`."""

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    def get(self, owner: str, name: str) -> Model:
        from polaris.artifacts import Model

        fetched = self.ctx.fetch(
            "model",
            owner,
            name,
            lambda: (Generation.V2, self.ctx.wire.models.get_model_v2(owner, name)),
            infer=_model_generation,
        )
        if not fetched.from_cache:
            artifact_id = str(fetched.data.get("artifactId") or f"{owner}/{slugify(name)}")
            self.ctx.remember("model", artifact_id, fetched.generation, fetched.data)
        model: Model = Model.from_wire(fetched.data)
        return model

    def upload(
        self,
        model: Model,
        *,
        access: str,
        owner: str | HubOwner | None,
        parent_artifact_id: str | None = None,
    ) -> dict[str, Any]:
        """``PUT /v2/model/{owner}/{slug}`` (0.12+), or ``POST /v2/model`` on a 0.11 Hub (learned once)."""
        if owner is not None:
            model.owner = HubOwner.normalize(owner)
        model.access = access  # type: ignore[assignment]
        model.parent_artifact_id = parent_artifact_id
        model.check_uploadable()
        assert model.owner is not None and model.name
        body: dict[str, Any] = {"access": access, **model.to_wire(), "parentArtifactId": parent_artifact_id}
        stored, location = self.ctx.wire.models.put_model(model.owner.slug, slugify(model.name), body)
        version = stored.get("artifactVersion")
        if isinstance(version, int):
            model.artifact_version = version
        where = self.ctx.web_url(location) if location else self.ctx.web_url(f"models/{model.artifact_id}")
        logger.info("Model uploaded: %s", where)
        return stored

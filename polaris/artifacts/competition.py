"""Competitions (Hub section 6.10) and the predictions sent to be scored (section 6.11)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field, field_serializer, model_validator

from polaris.artifacts._base import BaseArtifactModel, clean_json, url_fields
from polaris.artifacts.benchmark import BenchmarkSpecification
from polaris.evaluate import normalize_predictions
from polaris.types import AccessType, SlugCompatible

__all__ = ["CompetitionPredictions", "CompetitionSpecification"]

_PREDICTION_KEYS = ("predictions", "target_labels", "test_set_labels", "test_set_sizes")


class CompetitionSpecification(BenchmarkSpecification):
    """A competition: a benchmark whose test targets stay on the Hub, open between ``start_time`` and ``end_time``.

    Raises (on construction):
        pydantic.ValidationError: no owner, or a benchmark rule is broken.
    """

    artifact_type = "competition"

    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None

    @model_validator(mode="after")
    def _owner_required(self) -> CompetitionSpecification:
        if self.owner is None:
            raise ValueError("owner: a competition must have an owner")
        if self.start_time and self.end_time and self.end_time < self.start_time:
            raise ValueError("end_time: must not be before start_time")
        return self

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], **extra: Any) -> Any:
        """Parse ``GET /v2/competition/{owner}/{name}``.

        Raises:
            pydantic.ValidationError: the data breaks a rule.
        """
        return super(BenchmarkSpecification, cls).from_wire(data, **extra)


class CompetitionPredictions(BaseArtifactModel):
    """Predictions for a competition, normalised to ``{test set: {target: values}}``.

    Wire form (``to_wire``): snake_case keys with nulls included, as the Hub's evaluate endpoint expects.

    Raises (on construction):
        pydantic.ValidationError: predictions do not fit the labels/sizes (the message names test set and target).
    """

    artifact_type = "result"

    predictions: dict[str, dict[str, Any]]
    target_labels: list[str]
    test_set_labels: list[str]
    test_set_sizes: dict[str, int]
    github_url: str | None = None
    paper_url: str | None = None
    contributors: list[SlugCompatible] = Field(default_factory=list)
    access: AccessType = "private"

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        for snake, camel in (
            ("target_labels", "targetLabels"),
            ("test_set_labels", "testSetLabels"),
            ("test_set_sizes", "testSetSizes"),
        ):
            if snake not in out and camel in out:
                out[snake] = out.pop(camel)
        try:
            targets, tests, sizes = out["target_labels"], out["test_set_labels"], out["test_set_sizes"]
        except KeyError as exc:
            raise ValueError(f"{exc.args[0]} is required") from exc
        out["predictions"] = normalize_predictions(out.get("predictions"), targets, tests, sizes)
        return out

    _urls = url_fields("github_url", "paper_url")

    @field_serializer("predictions")
    def _predictions_out(self, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, list[Any]]]:
        return {
            test: {target: clean_json(np.asarray(arr).tolist()) for target, arr in per_target.items()}
            for test, per_target in value.items()
        }

    def to_wire(self) -> dict[str, Any]:
        """snake_case body with nulls included (section 6.11); the four prediction keys first."""
        data = clean_json(self.model_dump(mode="json"))
        return {
            **{k: data[k] for k in _PREDICTION_KEYS},
            **{k: v for k, v in data.items() if k not in _PREDICTION_KEYS},
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], **extra: Any) -> Any:
        """Parse the snake_case (or camelCase) body.

        Raises:
            pydantic.ValidationError: the predictions do not fit.
        """
        return cls.model_validate({**dict(data), **extra})

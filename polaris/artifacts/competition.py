"""Competitions (Hub section 6.10) and the predictions sent to be scored (section 6.11)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field, computed_field, field_serializer, field_validator, model_validator

from polaris.artifacts._base import BaseArtifactModel, clean_json, url_fields
from polaris.artifacts._benchmark_common import DatasetReference
from polaris.artifacts._hub_calls import hub_client
from polaris.artifacts._zarr_subset import ZarrSubset
from polaris.artifacts.benchmark import BenchmarkSpecification
from polaris.artifacts.dataset import DatasetV2
from polaris.errors import InvalidArtifactError
from polaris.evaluate import normalize_predictions
from polaris.types import AccessType, HubOwner, SlugCompatible, artifact_urn

if TYPE_CHECKING:
    from polaris.artifacts.results import CompetitionResults

__all__ = ["CompetitionPredictions", "CompetitionSpecification", "ZarrCompetitionSpecification"]

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

    def submit_predictions(
        self,
        prediction_name: Any = None,
        prediction_owner: str | HubOwner | None = None,
        predictions: Any = None,
        report_url: str | None = None,
        contributors: list[str] | None = None,
        github_url: str | None = None,
        description: str = "",
        tags: list[str] | None = None,
        user_attributes: dict[str, str] | None = None,
        *,
        settings: Any = None,
        cache_auth_token: bool = True,
        **client_kwargs: Any,
    ) -> CompetitionResults:
        """Send predictions to the Hub, which scores them on the hidden test targets; returns the scores.

        polaris-lib 0.11-0.13 order: ``submit_predictions(prediction_name, prediction_owner, predictions,
        report_url, ...)``; 0.10 code passes the predictions first (``submit_predictions(predictions)``), which is
        recognised (the first argument is not a name). ``predictions`` may be a :class:`CompetitionPredictions` or
        any shape ``benchmark.evaluate`` accepts. Uses a client opened for the call
        (:meth:`~polaris.hub.client.PolarisHubClient.evaluate_competition`).

        Raises:
            ValueError: no predictions, or they do not fit the competition's test sets.
            see :meth:`~polaris.hub.client.PolarisHubClient.evaluate_competition`.
        """
        if predictions is None and prediction_name is not None and not isinstance(prediction_name, str):
            predictions, prediction_name = prediction_name, None  # 0.10: the predictions come first
        if predictions is None:
            raise ValueError("submit_predictions: give the predictions (predictions=...)")
        if not isinstance(predictions, CompetitionPredictions):
            predictions = CompetitionPredictions(
                name=prediction_name,
                owner=prediction_owner,
                predictions=predictions,
                report_url=report_url,
                github_url=github_url,
                contributors=contributors or [],
                description=description,
                tags=tags or [],
                user_attributes=user_attributes or {},
                target_labels=list(self.target_cols),
                test_set_labels=self.test_set_labels,
                test_set_sizes=self.test_set_sizes,
            )
        name = prediction_name if isinstance(prediction_name, str) else predictions.name
        owner = prediction_owner if prediction_owner is not None else predictions.owner
        with hub_client(settings, cache_auth_token, **client_kwargs) as client:
            results: CompetitionResults = client.evaluate_competition(
                self,
                predictions,
                name=name,
                owner=owner,
                report_url=report_url or predictions.paper_url,
                description=description or predictions.description or None,
            )
            return results

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], **extra: Any) -> Any:
        """Parse ``GET /v2/competition/{owner}/{name}``.

        Raises:
            pydantic.ValidationError: the data breaks a rule.
        """
        return super(BenchmarkSpecification, cls).from_wire(data, **extra)


class ZarrCompetitionSpecification(CompetitionSpecification):
    """A competition of the 0.11+ Hub (``GET /v1/competition``): itself a Zarr-only dataset plus the task.

    ``dataset`` is the :class:`~polaris.artifacts.DatasetV2` built from the competition's own metadata and archive
    (its ``datasetArtifactId`` is the competition's id); the split is V1-style ``[train, {test name: rows}]``.
    The test rows' targets are not in the archive the Hub serves [inferred]: predictions are scored on the Hub
    (``PolarisHubClient.evaluate_competition``).

    Raises (on construction):
        pydantic.ValidationError: no owner, a column not in the archive, or an index beyond its rows.
    """

    dataset: DatasetV2 | DatasetReference | None = Field(default=None, exclude=True)  # type: ignore[assignment]

    @field_validator("dataset", mode="before")
    @classmethod
    def _dataset(cls, value: Any) -> Any:
        if value is None or isinstance(value, (DatasetV2, DatasetReference)):
            return value
        if isinstance(value, Mapping):
            return DatasetReference.model_validate(value)
        raise ValueError(f"dataset must be a DatasetV2, got {type(value).__name__}")

    @model_validator(mode="after")
    def _check_archive(self) -> ZarrCompetitionSpecification:
        dataset = self.dataset
        if isinstance(dataset, DatasetV2):
            columns = set(dataset.columns)
            for field_name, cols in (("target_cols", self.target_cols), ("input_cols", self.input_cols)):
                missing = [c for c in cols if c not in columns]
                if missing:
                    raise ValueError(f"{field_name}: columns {missing} are not in the competition's archive")
            n_rows = dataset.n_rows
            if n_rows is not None:
                train, tests = self.split
                bad = sorted({i for i in [*train, *(i for s in tests.values() for i in s)] if i >= n_rows})
                if bad:
                    raise ValueError(f"split: indices {bad[:10]} are out of range for an archive of {n_rows} rows")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dataset_artifact_id(self) -> str | None:
        return self.artifact_id

    def get_train_test_split(  # type: ignore[override]
        self, featurization_fn: Callable[[Any], Any] | None = None
    ) -> tuple[ZarrSubset, ZarrSubset | dict[str, ZarrSubset]]:
        """``(train, test)``; ``test`` is a dict by name when there are several test sets. Test targets are hidden.
        ``featurization_fn`` is applied to each input.

        Raises:
            InvalidArtifactError: the archive is not loaded.
        """
        if not isinstance(self.dataset, DatasetV2):
            raise InvalidArtifactError("this competition's archive is not loaded (load it through the client)")
        dataset = self.dataset
        fn = featurization_fn
        train = ZarrSubset(dataset, self.split[0], self.input_cols, self.target_cols, featurization_fn=fn)
        tests = {
            name: ZarrSubset(
                dataset, idx, self.input_cols, self.target_cols, hide_targets=True, featurization_fn=fn, label=name
            )
            for name, idx in self.split[1].items()
        }
        if len(tests) == 1:
            return train, next(iter(tests.values()))
        return train, tests

    def evaluate(self, y_pred: Any = None, y_prob: Any = None) -> Any:
        """Competitions are scored on the Hub.

        Raises:
            InvalidArtifactError: always; use ``PolarisHubClient.evaluate_competition``.
        """
        raise InvalidArtifactError(
            "a competition's test targets stay on the Hub",
            hint="Send the predictions with client.evaluate_competition(competition, predictions).",
        )


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
        for alias in ("report_url", "reportUrl"):  # polaris-lib 0.11+ name of the report link
            report = out.pop(alias, None)
            if report is not None and out.get("paper_url", out.get("paperUrl")) is None:
                out["paper_url"] = report
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

    @property
    def report_url(self) -> str | None:
        """polaris-lib 0.11+ name of ``paper_url`` (the report describing the method)."""
        return self.paper_url

    @report_url.setter
    def report_url(self, value: str | None) -> None:
        self.paper_url = value

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

    def to_prediction_wire(self, competition_artifact_id: str) -> dict[str, Any]:
        """The ``POST /v1/competition-prediction`` body (0.11+): camelCase, nulls dropped, ``reportUrl`` for the
        report link, ``competitionArtifactId`` first and the ``competition-prediction`` URN."""
        data = clean_json(self.model_dump(mode="json", by_alias=True, exclude_none=True))
        data.pop("access", None)
        report = data.pop("paperUrl", None)
        body: dict[str, Any] = {"competitionArtifactId": competition_artifact_id, **data}
        if report is not None:
            body["reportUrl"] = report
        if self.owner is not None and self.name:
            body["urn"] = artifact_urn("competition-prediction", self.owner.slug, self.name)
        body["version"] = 1
        return body

"""Evaluation results: ``BenchmarkResults`` (Hub section 6.9) and ``CompetitionResults`` (section 6.12).

In memory the scores are a DataFrame with columns ``Test set``, ``Target label``, ``Metric``, ``Score``; on the wire
they are records ``[{testSet, targetLabel, scores: {metric name: number | null}}]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import Field, computed_field, field_serializer, field_validator, model_validator
from pydantic.alias_generators import to_camel

from polaris.artifacts._base import BaseArtifactModel, html_fields, url_fields, validate_http_url
from polaris.artifacts._hub_calls import hub_client, sort_upload_args
from polaris.errors import InvalidArtifactError
from polaris.evaluate import RESULTS_COLUMNS, records_to_rows, rows_to_records
from polaris.types import AccessType, HubOwner, SlugCompatible, slugify

__all__ = ["BenchmarkResults", "CompetitionResults", "ResultsBase", "results_table"]


def results_table(value: Any) -> pd.DataFrame:
    """Accept a results DataFrame, wire records (camelCase or snake_case) or ``(test, target, metric, score)`` rows.

    Raises:
        ValueError: empty, or not one of those shapes / the wrong columns.
    """
    if isinstance(value, pd.DataFrame):
        if list(value.columns) != list(RESULTS_COLUMNS):
            if set(value.columns) != set(RESULTS_COLUMNS):
                raise ValueError(f"results: the table must have exactly the columns {list(RESULTS_COLUMNS)}")
            value = value[list(RESULTS_COLUMNS)]
        table: pd.DataFrame = value.reset_index(drop=True)
    elif isinstance(value, (list, tuple)):
        items = list(value)
        if items and all(isinstance(v, Mapping) and "scores" in v for v in items):
            rows = records_to_rows(items)
        elif all(isinstance(v, Mapping) for v in items):
            rows = [tuple(v[c] for c in RESULTS_COLUMNS) for v in items]
        else:
            rows = [tuple(v) for v in items]
        table = pd.DataFrame(rows, columns=list(RESULTS_COLUMNS))
    else:
        raise ValueError(f"results must be a DataFrame or a list of records, got {type(value).__name__}")
    if table.empty:
        raise ValueError("results: the results table is empty")
    table["Score"] = pd.to_numeric(table["Score"], errors="coerce").astype(float)
    for col in RESULTS_COLUMNS[:3]:
        table[col] = table[col].astype(object)
    return table


class ResultsBase(BaseArtifactModel):
    """Fields shared by benchmark and competition results."""

    results: Any
    github_url: str | None = None
    paper_url: str | None = None
    contributors: list[SlugCompatible] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _link_names(cls, data: Any) -> Any:
        """polaris-lib 0.12 renamed ``github_url``/``paper_url`` to ``code_url``/``report_url``: both accepted."""
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        for new, old in (("code_url", "github_url"), ("report_url", "paper_url")):
            for key in (new, to_camel(new)):
                value = out.pop(key, None)
                if value is not None and out.get(old, out.get(to_camel(old))) is None:
                    out[old] = value
        return out

    @field_validator("results", mode="before")
    @classmethod
    def _results(cls, value: Any) -> Any:
        return results_table(value)

    _urls = url_fields("github_url", "paper_url")

    @property
    def code_url(self) -> str | None:
        """polaris-lib 0.12+ name of ``github_url`` (where the code is)."""
        return self.github_url

    @code_url.setter
    def code_url(self, value: str | None) -> None:
        self.github_url = validate_http_url(value, "code_url")

    @property
    def report_url(self) -> str | None:
        """polaris-lib 0.12+ name of ``paper_url`` (the report describing the method)."""
        return self.paper_url

    @report_url.setter
    def report_url(self, value: str | None) -> None:
        self.paper_url = validate_http_url(value, "report_url")

    @field_serializer("results")
    def _results_out(self, value: pd.DataFrame) -> list[dict[str, Any]]:
        return rows_to_records(value.itertuples(index=False, name=None))

    def scores(self) -> dict[tuple[str, str], dict[str, float]]:
        """``{(test set, target): {metric name: score}}``."""
        out: dict[tuple[str, str], dict[str, float]] = {}
        for test, target, metric, value in self.results.itertuples(index=False, name=None):
            out.setdefault((str(test), str(target)), {})[str(metric)] = float(value)
        return out

    def _repr_html_(self) -> str:
        """In Jupyter: who and what the results are for, then the scores as an HTML table."""
        target = getattr(self, "benchmark_artifact_id", None) or getattr(self, "competition_artifact_id", None)
        fields = {
            "for": target,
            "owner": self.owner.slug if self.owner else None,
            "url": getattr(self, "hub_url", None),
        }
        scores = self.results.to_html(index=False, na_rep="NaN", classes="polaris-results", border=0)
        return html_fields(f"Results {self.name or '(unnamed)'}", fields, extra_html=scores)

    def check_uploadable(self) -> None:
        """Raise before anything is sent if the Hub would refuse these results.

        Raises:
            InvalidArtifactError: no name or owner.
        """
        if not self.name:
            raise InvalidArtifactError("results.name is required to upload results")
        if self.owner is None:
            raise InvalidArtifactError("results.owner is required to upload results")


class BenchmarkResults(ResultsBase):
    """Scores of one submission on a benchmark (POST ``/v2/result``)."""

    artifact_type = "result"

    access: AccessType = "private"
    benchmark_artifact_id: str | None = None
    #: ``owner/slug`` of the model behind these results (``modelArtifactId``; a :class:`Model` is accepted too).
    model_artifact_id: str | None = None
    #: Where the uploaded results can be seen (set by ``PolarisHubClient.upload_results``; never sent).
    hub_url: str | None = Field(default=None, exclude=True)
    benchmark_name: SlugCompatible | None = None
    benchmark_owner: HubOwner | None = None

    @field_validator("benchmark_owner", mode="before")
    @classmethod
    def _bench_owner(cls, value: Any) -> Any:
        return HubOwner(slug=value) if isinstance(value, str) else value

    @field_serializer("benchmark_owner")
    def _bench_owner_out(self, value: HubOwner | None) -> dict[str, Any] | None:
        return None if value is None else value.model_dump(by_alias=True, exclude_none=True)

    @field_validator("model_artifact_id", mode="before")
    @classmethod
    def _model_id(cls, value: Any) -> Any:
        artifact_id = getattr(value, "artifact_id", None)
        if isinstance(value, BaseArtifactModel):
            if artifact_id is None:
                raise ValueError("model_artifact_id: the model has no owner and name")
            return artifact_id
        return value

    @model_validator(mode="after")
    def _derive_id(self) -> BenchmarkResults:
        if self.benchmark_artifact_id is None and self.benchmark_name and self.benchmark_owner is not None:
            self.benchmark_artifact_id = f"{self.benchmark_owner.slug}/{slugify(self.benchmark_name)}"
        return self

    def check_uploadable(self) -> None:
        """Raise before anything is sent if the Hub would refuse these results.

        Raises:
            InvalidArtifactError: no name, owner or benchmark.
        """
        super().check_uploadable()
        if self.benchmark_artifact_id is None:
            raise InvalidArtifactError("results.benchmark_artifact_id is required (results come from evaluate())")

    def upload_to_hub(
        self,
        settings: Any = None,
        cache_auth_token: bool = True,
        access: AccessType | str = "private",
        owner: str | HubOwner | None = None,
        *,
        model: Any = None,
        **client_kwargs: Any,
    ) -> BenchmarkResults:
        """Upload these results with a client opened for the call (logging in when no login is cached); see
        :meth:`~polaris.hub.client.PolarisHubClient.upload_results`. Returns the uploaded results (their
        ``hub_url`` says where to see them; it is also set on ``self``).

        Accepts polaris-lib 0.10's ``upload_to_hub(settings, cache_auth_token, access, owner)`` and 0.12's
        ``upload_to_hub(access, owner)``.
        """
        settings, access, owner = sort_upload_args(settings, access, owner)
        with hub_client(settings, cache_auth_token, **client_kwargs) as client:
            uploaded: BenchmarkResults = client.upload_results(self, access=access, owner=owner, model=model)
        self.hub_url = uploaded.hub_url
        return uploaded

    def to_wire(self) -> dict[str, Any]:
        """The POST ``/v2/result`` body (``access`` first)."""
        body = self.to_wire_base()
        return {"access": body.pop("access", "private"), **body}


class CompetitionResults(ResultsBase):
    """Scores the Hub computed for competition predictions."""

    artifact_type = "competitionResult"

    competition_name: str | None = None
    competition_owner: HubOwner | None = None

    @field_validator("competition_owner", mode="before")
    @classmethod
    def _comp_owner(cls, value: Any) -> Any:
        return HubOwner(slug=value) if isinstance(value, str) else value

    @field_serializer("competition_owner")
    def _comp_owner_out(self, value: HubOwner | None) -> dict[str, Any] | None:
        return None if value is None else value.model_dump(by_alias=True, exclude_none=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def competition_artifact_id(self) -> str | None:
        if self.competition_owner is None or not self.competition_name:
            return None
        return f"{self.competition_owner.slug}/{slugify(self.competition_name)}"

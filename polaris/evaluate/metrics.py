"""The metric registry and the ``Metric`` model (wire form: Hub section 6.8).

Every label the Hub knows is registered here. The maths is scikit-learn's and scipy's; only
``absolute_average_fold_error`` (a one-liner the Hub defines itself) is written out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, field_validator, model_serializer, model_validator

__all__ = [
    "CLASSIFICATION",
    "DOCKING",
    "METRICS",
    "REGRESSION",
    "Direction",
    "GroupedMetricConfig",
    "Metric",
    "MetricInfo",
    "MetricKind",
    "YType",
    "metric_labels",
    "unfit_metrics",
]

Direction: TypeAlias = Literal["min", "max"] | int
YType: TypeAlias = Literal["y_pred", "y_prob"]
MetricKind: TypeAlias = Literal["default", "grouped"]

#: RMSD threshold (Angstrom) of ``rmsd_coverage``.
RMSD_COVERAGE_THRESHOLD = 2.0


def _sk(name: str, **kwargs: Any) -> Callable[..., float]:
    """A scikit-learn metric, imported on first use."""

    def fn(y_true: npt.NDArray[Any], y_score: npt.NDArray[Any]) -> float:
        from sklearn import metrics as skm

        return float(getattr(skm, name)(y_true, y_score, **kwargs))

    fn.__name__ = name
    return fn


def _pearsonr(y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any]) -> float:
    from scipy import stats

    return float(stats.pearsonr(y_true, y_pred).statistic)


def _spearmanr(y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any]) -> float:
    from scipy import stats

    return float(stats.spearmanr(y_true, y_pred).statistic)


def _absolute_average_fold_error(y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any]) -> float:
    true = np.asarray(y_true, dtype=float)
    pred = np.asarray(y_pred, dtype=float)
    if true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred lengths differ ({true.shape[0]} vs {pred.shape[0]})")
    if np.any(true == 0):
        raise ValueError("absolute_average_fold_error is undefined: y_true contains 0")
    return float(np.mean(np.abs(pred) / np.abs(true)))


def _pr_auc(y_true: npt.NDArray[Any], y_score: npt.NDArray[Any]) -> float:
    from sklearn.metrics import average_precision_score

    if not np.any(np.asarray(y_true) == 1):
        raise ValueError("pr_auc is undefined: y_true has no positive (1) label")
    return float(average_precision_score(y_true, y_score))


def _rmsd_coverage(y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any]) -> float:
    raise NotImplementedError(
        "the rmsd_coverage metric needs RDKit (symmetry-aware RMSD between molecules), which this package does not "
        "install; score docking benchmarks with the reference tools or install RDKit support"
    )


REGRESSION = frozenset({"regression"})
CLASSIFICATION = frozenset({"classification"})
DOCKING = frozenset({"docking"})


@dataclass(frozen=True)
class MetricInfo:
    """What a metric label computes: the function, which way is better, and which predictions it takes."""

    label: str
    fn: Callable[[npt.NDArray[Any], npt.NDArray[Any]], float]
    direction: Direction
    y_type: YType = "y_pred"
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    target_types: frozenset[str] = REGRESSION
    """The target types (``TargetType``) the metric is defined for."""

    def fits(self, target_type: str | None) -> bool:
        """Whether the metric applies to a target of this type (``None``: type unknown, so it may)."""
        return target_type is None or target_type in self.target_types


METRICS: dict[str, MetricInfo] = {
    info.label: info
    for info in (
        MetricInfo("mean_absolute_error", _sk("mean_absolute_error"), "min"),
        MetricInfo("mean_squared_error", _sk("mean_squared_error"), "min"),
        MetricInfo("r2", _sk("r2_score"), "max"),
        MetricInfo("pearsonr", _pearsonr, "max"),
        MetricInfo("spearmanr", _spearmanr, "max"),
        MetricInfo("explained_var", _sk("explained_variance_score"), "max"),
        MetricInfo("absolute_average_fold_error", _absolute_average_fold_error, 1),
        MetricInfo("accuracy", _sk("accuracy_score"), "max", target_types=CLASSIFICATION),
        MetricInfo("balanced_accuracy", _sk("balanced_accuracy_score"), "max", target_types=CLASSIFICATION),
        MetricInfo("mcc", _sk("matthews_corrcoef"), "max", target_types=CLASSIFICATION),
        MetricInfo("cohen_kappa", _sk("cohen_kappa_score"), "max", target_types=CLASSIFICATION),
        MetricInfo("pr_auc", _pr_auc, "max", "y_prob", target_types=CLASSIFICATION),
        MetricInfo(
            "f1", _sk("f1_score", average="binary"), "max", extra={"average": "binary"}, target_types=CLASSIFICATION
        ),
        MetricInfo("roc_auc", _sk("roc_auc_score"), "max", "y_prob", target_types=CLASSIFICATION),
        MetricInfo(
            "f1_macro", _sk("f1_score", average="macro"), "max", extra={"average": "macro"}, target_types=CLASSIFICATION
        ),
        MetricInfo(
            "f1_micro", _sk("f1_score", average="micro"), "max", extra={"average": "micro"}, target_types=CLASSIFICATION
        ),
        MetricInfo(
            "roc_auc_ovr",
            _sk("roc_auc_score", multi_class="ovr"),
            "max",
            "y_prob",
            extra={"multi_class": "ovr"},
            target_types=CLASSIFICATION,
        ),
        MetricInfo(
            "roc_auc_ovo",
            _sk("roc_auc_score", multi_class="ovo"),
            "max",
            "y_prob",
            extra={"multi_class": "ovo"},
            target_types=CLASSIFICATION,
        ),
        MetricInfo(
            "rmsd_coverage", _rmsd_coverage, "max", description="needs RDKit (not installed)", target_types=DOCKING
        ),
    )
}


def metric_labels() -> list[str]:
    """Every metric label the Hub accepts."""
    return list(METRICS)


def unfit_metrics(metrics: list[Any], target_types: Mapping[str, str], target_cols: list[str]) -> list[str]:
    """Messages for metrics that fit none of the targets (targets without a known type fit every metric)."""
    problems: list[str] = []
    for raw in metrics:
        metric = raw if isinstance(raw, Metric) else Metric.model_validate(raw)
        if not any(metric.fits(target_types.get(t)) for t in target_cols):
            kinds = sorted({str(target_types[t]) for t in target_cols if t in target_types})
            problems.append(
                f"metric {metric.name!r} is for {'/'.join(sorted(metric.target_types))} targets, but the targets "
                f"are {'/'.join(kinds)} ({', '.join(f'{t}: {target_types[t]}' for t in target_cols)})"
            )
    return problems


def _check_label(label: str) -> str:
    if label not in METRICS:
        raise ValueError(f"unknown metric label {label!r}; known labels: {', '.join(METRICS)}")
    return label


class GroupedMetricConfig(BaseModel):
    """Score per group of rows (grouped by a dataset column), then aggregate the group scores."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    group_by: str
    on_error: Literal["ignore", "raise", "default"] = "raise"
    default: float | None = None
    aggregation: Literal["mean", "median"] = "mean"

    @model_validator(mode="after")
    def _default_needed(self) -> GroupedMetricConfig:
        if self.on_error == "default" and self.default is None:
            raise ValueError("config.default is required when config.on_error is 'default'")
        return self

    def wire(self) -> dict[str, Any]:
        """All four keys, snake_case (``default`` may be null)."""
        return {
            "group_by": self.group_by,
            "on_error": self.on_error,
            "default": self.default,
            "aggregation": self.aggregation,
        }


class _MetricNames(type(BaseModel)):  # type: ignore[misc]
    """polaris-lib 0.10's ``Metric`` was an enum: ``Metric.r2`` is ``Metric("r2")`` (any metric label)."""

    def __getattr__(cls, name: str) -> Any:
        if not name.startswith("_") and name in METRICS:
            return cls(name)
        return super().__getattr__(name)


class Metric(BaseModel, metaclass=_MetricNames):
    """A metric of a benchmark.

    Parsing accepts a bare label (``"r2"``) or the wire object ``{label, config?, kind?, name?}``; ``name`` becomes
    the custom name (unless it is the default one), ``kind`` is ignored (derived from ``config``).

    Raises (on construction):
        pydantic.ValidationError: unknown label, or a bad grouped config.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    label: str
    config: GroupedMetricConfig | None = None
    custom_name: str | None = None

    def __init__(self, label: str | None = None, /, **data: Any) -> None:
        """``Metric("r2")``, ``Metric(label="r2", config=..., custom_name=...)``."""
        if label is not None:
            data["label"] = label
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"label": data}
        if isinstance(data, Mapping):
            out = dict(data)
            out.pop("kind", None)
            name = out.pop("name", None)
            if name is not None and out.get("custom_name") is None:
                default = str(out.get("label")) + ("_grouped" if out.get("config") else "")
                if name != default:
                    out["custom_name"] = name
            return out
        return data

    @field_validator("label")
    @classmethod
    def _known_label(cls, value: str) -> str:
        return _check_label(value)

    # -- derived --------------------------------------------------------------------------------------------------

    @property
    def info(self) -> MetricInfo:
        return METRICS[self.label]

    @property
    def is_grouped(self) -> bool:
        return self.config is not None

    @property
    def kind(self) -> MetricKind:
        return "grouped" if self.config is not None else "default"

    @property
    def name(self) -> str:
        if self.custom_name:
            return self.custom_name
        return f"{self.label}_grouped" if self.config is not None else self.label

    @property
    def direction(self) -> Direction:
        return self.info.direction

    @property
    def y_type(self) -> YType:
        return self.info.y_type

    @property
    def target_types(self) -> frozenset[str]:
        """The target types this metric is defined for."""
        return self.info.target_types

    def fits(self, target_type: str | None) -> bool:
        """Whether this metric applies to a target of ``target_type`` (``None``: unknown type, so it may)."""
        return self.info.fits(target_type)

    def checksum_string(self) -> str:
        """The string the benchmark checksum hashes: the label, plus the sorted-key JSON config for grouped metrics."""
        if self.config is None:
            return self.label
        return self.label + json.dumps(self.config.wire(), sort_keys=True)

    @model_serializer(mode="plain")
    def _wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label}
        if self.config is not None:
            out["config"] = {k: v for k, v in self.config.wire().items() if v is not None}
        out["kind"] = self.kind
        out["name"] = self.name
        return out

    def to_wire(self) -> dict[str, Any]:
        """``{label, config?, kind, name}``: snake_case config (null ``default`` omitted), no config when absent."""
        return self._wire()

    def __str__(self) -> str:
        return self.name

    # -- scoring --------------------------------------------------------------------------------------------------

    def _score_one(self, y_true: npt.NDArray[Any], y_score: npt.NDArray[Any]) -> float:
        if len(y_true) == 0:
            raise ValueError(f"metric {self.name!r}: nothing to score (no rows with a true value)")
        return float(self.info.fn(y_true, y_score))

    def score(
        self,
        y_true: npt.ArrayLike,
        y_pred: npt.ArrayLike | None = None,
        y_prob: npt.ArrayLike | None = None,
        groups: npt.ArrayLike | None = None,
    ) -> float:
        """Score one target of one test set. Rows whose true value is NaN/None are dropped first.

        ``groups`` (grouped metrics only) holds the ``group_by`` column values of the same rows.

        Raises:
            ValueError: missing predictions for this metric's input, length mismatch, no rows, a metric-specific
                error (e.g. ``pr_auc`` without positives), or a group error with ``on_error="raise"``.
            NotImplementedError: ``rmsd_coverage`` (needs RDKit).
        """
        preds = y_prob if self.y_type == "y_prob" else y_pred
        if preds is None:
            raise ValueError(f"metric {self.name!r} needs {self.y_type}, which was not given")
        true = np.asarray(y_true)
        pred = np.asarray(preds)
        if true.shape[0] != pred.shape[0]:
            raise ValueError(
                f"metric {self.name!r}: {true.shape[0]} true values but {pred.shape[0]} {self.y_type} values"
            )
        keep = ~_missing_mask(true)
        true, pred = _clean(true[keep]), pred[keep]
        if self.config is None:
            return self._score_one(true, pred)
        if groups is None:
            raise ValueError(f"grouped metric {self.name!r} needs the values of column {self.config.group_by!r}")
        grp = np.asarray(groups, dtype=object)
        if grp.shape[0] != keep.shape[0]:
            raise ValueError(f"grouped metric {self.name!r}: {grp.shape[0]} group values for {keep.shape[0]} rows")
        return self._score_grouped(true, pred, grp[keep])

    def _score_grouped(self, true: npt.NDArray[Any], pred: npt.NDArray[Any], grp: npt.NDArray[Any]) -> float:
        import pandas as pd

        assert self.config is not None
        codes, uniques = pd.factorize(grp, use_na_sentinel=False)
        scores: list[float] = []
        for code, value in enumerate(uniques):
            mask = codes == code
            try:
                scores.append(self._score_one(true[mask], pred[mask]))
            except NotImplementedError:
                raise
            except Exception as exc:
                if self.config.on_error == "raise":
                    raise ValueError(f"grouped metric {self.name!r} failed for group {value!r}: {exc}") from exc
                if self.config.on_error == "default":
                    assert self.config.default is not None
                    scores.append(float(self.config.default))
        if not scores:
            return math.nan
        return float(np.median(scores) if self.config.aggregation == "median" else np.mean(scores))


def _missing_mask(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """True where a true value is missing (NaN for numbers, None/NaN/NA for objects)."""
    if values.dtype.kind in "fc":
        nan_mask: npt.NDArray[np.bool_] = np.isnan(values)
        return nan_mask
    if values.dtype == object:
        import pandas as pd

        mask: npt.NDArray[np.bool_] = np.asarray(pd.isna(values), dtype=bool)
        return mask
    return np.zeros(values.shape[0], dtype=bool)


def _clean(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Object arrays of plain numbers become numeric, so scikit-learn sees the right type of target."""
    if values.dtype == object and len(values):
        try:
            return np.asarray(values.tolist())
        except (TypeError, ValueError):
            return values
    return values

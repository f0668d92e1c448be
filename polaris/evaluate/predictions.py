"""Prediction normalisation (Hub section 10.3) and scoring (section 10.2), shared by the client and the local Hub."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, field_serializer, model_validator

from polaris.errors import InvalidPredictionsError
from polaris.evaluate.metrics import Metric

__all__ = [
    "RESULTS_COLUMNS",
    "BenchmarkPredictions",
    "normalize_predictions",
    "records_to_rows",
    "rows_to_records",
    "score",
]

#: Columns of the in-memory results table.
RESULTS_COLUMNS: tuple[str, str, str, str] = ("Test set", "Target label", "Metric", "Score")

Normalized = dict[str, dict[str, npt.NDArray[Any]]]


_SHAPES_HINT = (
    "Give one value per test row, in test order: a list for one target and one test set, {test set: values} for "
    "one target, {target: values} for one test set, or {test set: {target: values}}."
)


def _bad(message: str, *, test_set: str | None = None, target: str | None = None) -> InvalidPredictionsError:
    return InvalidPredictionsError(message, test_set=test_set, target=target, hint=_SHAPES_HINT)


def _as_array(values: Any, where: str, *, test_set: str | None, target: str | None) -> npt.NDArray[Any]:
    if isinstance(values, Mapping):
        raise _bad(
            f"predictions for {where} must be a list or array, got a mapping with keys {sorted(map(str, values))}",
            test_set=test_set,
            target=target,
        )
    if isinstance(values, (str, bytes)):
        raise _bad(f"predictions for {where} must be a list or array, got a string", test_set=test_set, target=target)
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        message = f"predictions for {where} are not a flat list of values ({exc})"
        raise _bad(message, test_set=test_set, target=target) from None
    if arr.ndim == 0:
        raise _bad(f"predictions for {where} must be a list or array, got a scalar", test_set=test_set, target=target)
    return arr


def _is_mapping_of_mappings(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) > 0 and all(isinstance(v, Mapping) for v in value.values())


def normalize_predictions(
    predictions: Any,
    target_labels: Sequence[str],
    test_set_labels: Sequence[str],
    test_set_sizes: Mapping[str, int],
) -> Normalized:
    """Bring predictions to ``{test set: {target: array}}``.

    Accepted shapes: the full two-level dict (any benchmark); a flat list/array (1 target, 1 test set);
    ``{test set: array}`` (1 target); ``{target: array}`` (1 test set). Every array must have its test set's size.

    Raises:
        InvalidPredictionsError: (a ``ValueError``) unknown/missing test set or target names, a shape that does not
            fit the benchmark, or an array whose length differs from its test set size (the message names test set,
            target, expected and got).
        ValueError: the benchmark itself has no target or no test set.
    """
    targets = list(target_labels)
    tests = list(test_set_labels)
    if not targets or not tests:
        raise ValueError("a benchmark needs at least one target and one test set to take predictions")
    if predictions is None:
        raise _bad("no predictions given")
    inner = getattr(predictions, "predictions", None)
    if isinstance(predictions, BaseModel) and isinstance(inner, Mapping):
        predictions = inner  # BenchmarkPredictions / CompetitionPredictions: already normalised

    result: Normalized
    if _is_mapping_of_mappings(predictions):
        keys = set(predictions)
        if keys != set(tests):
            raise _bad(
                f"predictions are keyed by test sets {sorted(map(str, keys))} "
                f"but the benchmark has test sets {sorted(tests)}"
            )
        result = {}
        for test in tests:
            inner = predictions[test]
            if set(inner) != set(targets):
                raise _bad(
                    f"predictions for test set {test!r} have targets {sorted(map(str, inner))}, "
                    f"expected {sorted(targets)}",
                    test_set=test,
                )
            result[test] = {
                t: _as_array(inner[t], f"test set {test!r}, target {t!r}", test_set=test, target=t) for t in targets
            }
    elif isinstance(predictions, Mapping):
        keys = set(predictions)
        if len(targets) == 1 and keys == set(tests):
            result = {
                test: {targets[0]: _as_array(predictions[test], f"test set {test!r}", test_set=test, target=targets[0])}
                for test in tests
            }
        elif len(tests) == 1 and keys == set(targets):
            result = {
                tests[0]: {t: _as_array(predictions[t], f"target {t!r}", test_set=tests[0], target=t) for t in targets}
            }
        elif len(targets) > 1 and len(tests) > 1:
            raise _bad(
                "this benchmark has several targets and several test sets: give predictions as "
                f"{{test set: {{target: values}}}} with test sets {sorted(tests)} and targets {sorted(targets)}"
            )
        else:
            expected = sorted(tests) if len(targets) == 1 else sorted(targets)
            what = "test set" if len(targets) == 1 else "target"
            raise _bad(f"predictions are keyed by {sorted(map(str, keys))}; expected one entry per {what}: {expected}")
    else:
        if len(targets) != 1 or len(tests) != 1:
            raise _bad(
                "a flat list of predictions only fits a benchmark with one target and one test set; this one has "
                f"targets {targets} and test sets {sorted(tests)}"
            )
        result = {
            tests[0]: {
                targets[0]: _as_array(
                    predictions, f"test set {tests[0]!r}, target {targets[0]!r}", test_set=tests[0], target=targets[0]
                )
            }
        }

    for test, per_target in result.items():
        if test not in test_set_sizes:
            raise ValueError(f"no size known for test set {test!r}")
        expected_len = int(test_set_sizes[test])
        for target, arr in per_target.items():
            if arr.shape[0] != expected_len:
                raise _bad(
                    f"predictions for test set {test!r}, target {target!r} have length {arr.shape[0]}, "
                    f"expected {expected_len} (the size of the test set)",
                    test_set=test,
                    target=target,
                )
    return result


def _group_values(groups: Any, test: str, metric: Metric) -> Any:
    if groups is None or metric.config is None:
        return None
    per_test = groups.get(test)
    if isinstance(per_test, Mapping):
        return per_test.get(metric.config.group_by)
    return per_test


def _checked(
    values: npt.ArrayLike, metric: Metric, test: str, target: str, target_type: str | None
) -> npt.NDArray[Any]:
    """Predictions as an array fit for ``metric``, or an :class:`InvalidPredictionsError` naming target and test set.

    Probabilities and regression predictions must be numbers without NaN (probabilities within [0, 1]);
    class predictions may be labels of any type, but numeric ones must not be NaN.
    """
    where = f"test set {test!r}, target {target!r}"
    arr = np.asarray(values)
    numeric_metric = "regression" in metric.target_types  # regression metrics take numbers
    needs_numbers = metric.y_type == "y_prob" or numeric_metric
    if arr.dtype.kind not in "biuf":
        try:
            numeric = np.asarray(arr, dtype=float)
        except (TypeError, ValueError):
            if needs_numbers:
                kinds = sorted({type(v).__name__ for v in arr.ravel()[:1000]})
                raise InvalidPredictionsError(
                    f"{metric.y_type} for {where} must be numbers for metric {metric.name!r}, got {'/'.join(kinds)}",
                    test_set=test,
                    target=target,
                    metric=metric.name,
                ) from None
            return arr
        if needs_numbers or arr.dtype == object:
            arr = numeric
    if arr.dtype.kind == "f":
        bad = int(np.isnan(arr).sum())
        if bad:
            raise InvalidPredictionsError(
                f"{metric.y_type} for {where} contain {bad} NaN value(s)",
                test_set=test,
                target=target,
                metric=metric.name,
            )
    if metric.y_type == "y_prob" and arr.dtype.kind in "biuf" and arr.size and (arr.min() < 0 or arr.max() > 1):
        raise InvalidPredictionsError(
            f"y_prob for {where} must be probabilities in [0, 1] for metric {metric.name!r}",
            test_set=test,
            target=target,
            metric=metric.name,
        )
    return arr


def score(
    metrics: Iterable[Metric | str | Mapping[str, Any]],
    y_true: Mapping[str, Mapping[str, npt.ArrayLike]],
    y_pred: Mapping[str, Mapping[str, npt.ArrayLike]] | None = None,
    y_prob: Mapping[str, Mapping[str, npt.ArrayLike]] | None = None,
    groups: Mapping[str, Any] | None = None,
    target_types: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Score normalised predictions against the true values.

    ``y_true``/``y_pred``/``y_prob`` are ``{test set: {target: array}}``. ``groups`` (for grouped metrics) is
    ``{test set: array}`` or ``{test set: {group_by column: array}}``. Rows whose true value is NaN/None are dropped.
    ``target_types`` (``{target: "regression" | "classification" | ...}``): each metric scores only the targets of
    a type it is defined for (targets without a type get every metric), so regression and classification targets
    can share one benchmark.

    Returns wire-form records ``[{"testSet", "targetLabel", "scores": {metric name: float}}]`` sorted by test set then
    target. A score may be NaN (serialisation turns it into null).

    Raises:
        InvalidPredictionsError: predictions with NaN, of the wrong type, missing for a target or a metric, or
            refused by a metric (names the target, the test set and the metric).
        ValueError: no metric to score.
        NotImplementedError: a metric that cannot be computed here (``rmsd_coverage``).
    """
    parsed = [m if isinstance(m, Metric) else Metric.model_validate(m) for m in metrics]
    if not parsed:
        raise ValueError("no metrics to score")
    types = dict(target_types or {})
    records: list[dict[str, Any]] = []
    for test in sorted(y_true):
        for target in sorted(y_true[test]):
            scores: dict[str, float] = {}
            target_type = types.get(target)
            for metric in parsed:
                if not metric.fits(target_type):
                    continue
                source = y_prob if metric.y_type == "y_prob" else y_pred
                if source is None:
                    raise InvalidPredictionsError(
                        f"metric {metric.name!r} needs {metric.y_type}, which was not given",
                        test_set=test,
                        target=target,
                        metric=metric.name,
                        hint=f"Pass {metric.y_type}=... too (probabilities for y_prob, predicted values for y_pred).",
                    )
                if test not in source or target not in source[test]:
                    raise InvalidPredictionsError(
                        f"no {metric.y_type} for test set {test!r}, target {target!r}",
                        test_set=test,
                        target=target,
                        metric=metric.name,
                        hint=_SHAPES_HINT,
                    )
                values = _checked(source[test][target], metric, test, target, target_type)
                kwargs: dict[str, Any] = {metric.y_type: values}
                try:
                    scores[metric.name] = metric.score(
                        y_true[test][target], groups=_group_values(groups, test, metric), **kwargs
                    )
                except (NotImplementedError, InvalidPredictionsError):
                    raise
                except (ValueError, TypeError) as exc:
                    raise InvalidPredictionsError(
                        f"metric {metric.name!r} cannot score test set {test!r}, target {target!r}: {exc}",
                        test_set=test,
                        target=target,
                        metric=metric.name,
                    ) from exc
            if scores:
                records.append({"testSet": test, "targetLabel": target, "scores": scores})
    return records


def records_to_rows(records: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str, float]]:
    """Wire records (camelCase or snake_case keys) -> ``(test set, target, metric, score)`` rows; null -> NaN."""
    rows: list[tuple[str, str, str, float]] = []
    for rec in records:
        test = rec.get("testSet", rec.get("test_set"))
        target = rec.get("targetLabel", rec.get("target_label"))
        if test is None or target is None or not isinstance(rec.get("scores"), Mapping):
            raise ValueError(f"a results record needs testSet, targetLabel and scores, got keys {sorted(rec)}")
        for metric, value in rec["scores"].items():
            rows.append((str(test), str(target), str(metric), math.nan if value is None else float(value)))
    return rows


def rows_to_records(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """``(test set, target, metric, score)`` rows -> wire records sorted by test set then target; NaN -> None."""
    grouped: dict[tuple[str, str], dict[str, float | None]] = {}
    for test, target, metric, value in rows:
        val = None if value is None or (isinstance(value, float) and not math.isfinite(value)) else float(value)
        grouped.setdefault((str(test), str(target)), {})[str(metric)] = val
    return [
        {"testSet": test, "targetLabel": target, "scores": scores}
        for (test, target), scores in sorted(grouped.items(), key=lambda kv: kv[0])
    ]


class BenchmarkPredictions(BaseModel):
    """Predictions for a benchmark's test sets, normalised to ``{test set: {target: array}}`` (polaris-lib's
    ``polaris.evaluate.BenchmarkPredictions``). ``benchmark.evaluate`` accepts one as ``y_pred``/``y_prob``.

    Raises (on construction):
        pydantic.ValidationError: the predictions do not fit the labels and sizes (the message names test set and
            target).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    predictions: dict[str, dict[str, Any]]
    target_labels: list[str]
    test_set_labels: list[str]
    test_set_sizes: dict[str, int]

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        for key in ("target_labels", "test_set_labels", "test_set_sizes"):
            if key not in out:
                raise ValueError(f"{key} is required")
        out["target_labels"] = list(out["target_labels"])
        out["test_set_labels"] = list(out["test_set_labels"])
        out["predictions"] = normalize_predictions(
            out.get("predictions"), out["target_labels"], out["test_set_labels"], out["test_set_sizes"]
        )
        return out

    @field_serializer("predictions")
    def _out(self, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, list[Any]]]:
        return {t: {k: np.asarray(v).tolist() for k, v in per.items()} for t, per in value.items()}

    def get_subset(
        self, test_set_subset: Sequence[str] | None = None, target_subset: Sequence[str] | None = None
    ) -> BenchmarkPredictions:
        """The predictions of some test sets and/or targets only.

        Raises:
            pydantic.ValidationError: a name that is not a test set or target of these predictions.
        """
        tests = list(test_set_subset) if test_set_subset is not None else self.test_set_labels
        targets = list(target_subset) if target_subset is not None else self.target_labels
        unknown = [t for t in tests if t not in self.predictions] + [t for t in targets if t not in self.target_labels]
        if unknown:
            raise ValueError(f"get_subset: unknown test sets or targets {unknown}")
        return BenchmarkPredictions(
            predictions={t: {k: self.predictions[t][k] for k in targets} for t in tests},
            target_labels=targets,
            test_set_labels=tests,
            test_set_sizes={t: self.test_set_sizes[t] for t in tests},
        )

    def get_size(self, test_set_subset: Sequence[str] | None = None) -> int:
        """The number of predicted rows (summed over test sets)."""
        tests = list(test_set_subset) if test_set_subset is not None else self.test_set_labels
        return sum(int(self.test_set_sizes[t]) for t in tests)

    def __len__(self) -> int:
        return self.get_size()

    def __bool__(self) -> bool:
        return True

"""Metrics and evaluation, shared by the client and the local Hub.

``Metric`` (wire form of a metric), ``normalize_predictions`` (accepted prediction shapes ->
``{test: {target: array}}``) and ``score`` (records ``[{testSet, targetLabel, scores}]``).

polaris-lib's ``polaris.evaluate`` names are here too: ``Metric``, ``MetricInfo``, ``BenchmarkPredictions`` and,
loaded on first use (they are artifacts, defined in :mod:`polaris.artifacts` which imports this package),
``BenchmarkResults`` (also 0.13's ``BenchmarkResultsV2``), ``CompetitionResults``, ``CompetitionPredictions`` and
``ResultsMetadata`` - the same objects as :mod:`polaris.artifacts`'.
"""

from typing import Any

from polaris.evaluate.metrics import METRICS, GroupedMetricConfig, Metric, MetricInfo, metric_labels
from polaris.evaluate.predictions import (
    RESULTS_COLUMNS,
    BenchmarkPredictions,
    normalize_predictions,
    records_to_rows,
    rows_to_records,
    score,
)

__all__ = [
    "METRICS",
    "RESULTS_COLUMNS",
    "BenchmarkPredictions",
    "BenchmarkResults",
    "BenchmarkResultsV2",
    "CompetitionPredictions",
    "CompetitionResults",
    "GroupedMetricConfig",
    "Metric",
    "MetricInfo",
    "ResultsMetadata",
    "metric_labels",
    "normalize_predictions",
    "records_to_rows",
    "rows_to_records",
    "score",
]

#: names defined in polaris.artifacts (which imports this package): module and attribute
_ARTIFACT_NAMES = {
    "BenchmarkResults": ("polaris.artifacts.results", "BenchmarkResults"),
    "BenchmarkResultsV2": ("polaris.artifacts.results", "BenchmarkResults"),
    "CompetitionResults": ("polaris.artifacts.results", "CompetitionResults"),
    "ResultsMetadata": ("polaris.artifacts.results", "ResultsBase"),
    "CompetitionPredictions": ("polaris.artifacts.competition", "CompetitionPredictions"),
}
_NOT_PROVIDED = {
    "evaluate_benchmark": "call benchmark.evaluate(y_pred=..., y_prob=...), or polaris.evaluate.score(...)",
    "GroupedMetric": "use Metric(label=..., config=GroupedMetricConfig(group_by=...))",
    "EvaluationResult": "use BenchmarkResults",
    "ResultsType": "results are a pandas.DataFrame (BenchmarkResults.results)",
}


def __getattr__(name: str) -> Any:
    target = _ARTIFACT_NAMES.get(name)
    if target is not None:
        import importlib

        value = getattr(importlib.import_module(target[0]), target[1])
        globals()[name] = value
        return value
    if name in _NOT_PROVIDED:
        from polaris.utils._not_provided import NotProvidedError

        raise NotProvidedError(
            f"polaris.evaluate.{name} (polaris-lib) is not provided by polaris-hub-client", hint=_NOT_PROVIDED[name]
        )
    raise AttributeError(f"module 'polaris.evaluate' has no attribute {name!r}")

"""Metrics and evaluation, shared by the client and the local Hub.

``Metric`` (wire form of a metric), ``normalize_predictions`` (accepted prediction shapes ->
``{test: {target: array}}``) and ``score`` (records ``[{testSet, targetLabel, scores}]``).
"""

from polaris.evaluate.metrics import METRICS, GroupedMetricConfig, Metric, MetricInfo, metric_labels
from polaris.evaluate.predictions import (
    RESULTS_COLUMNS,
    normalize_predictions,
    records_to_rows,
    rows_to_records,
    score,
)

__all__ = [
    "METRICS",
    "RESULTS_COLUMNS",
    "GroupedMetricConfig",
    "Metric",
    "MetricInfo",
    "metric_labels",
    "normalize_predictions",
    "records_to_rows",
    "rows_to_records",
    "score",
]

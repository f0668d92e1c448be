"""The metric registry, the Metric wire form and scoring."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats
from sklearn import metrics as skm

from polaris.evaluate import METRICS, GroupedMetricConfig, Metric, metric_labels, score

ALL_LABELS = [
    "mean_absolute_error",
    "mean_squared_error",
    "r2",
    "pearsonr",
    "spearmanr",
    "explained_var",
    "absolute_average_fold_error",
    "accuracy",
    "balanced_accuracy",
    "mcc",
    "cohen_kappa",
    "pr_auc",
    "f1",
    "roc_auc",
    "f1_macro",
    "f1_micro",
    "roc_auc_ovr",
    "roc_auc_ovo",
    "rmsd_coverage",
]

Y_TRUE_REG = np.array([1.0, 2.0, 3.5, 4.0, 5.5, 7.0])
Y_PRED_REG = np.array([1.2, 1.8, 3.0, 4.4, 5.0, 7.5])
Y_TRUE_CLS = np.array([0, 1, 1, 0, 1, 0, 1, 1])
Y_PRED_CLS = np.array([0, 1, 0, 0, 1, 1, 1, 1])
Y_PROB_CLS = np.array([0.1, 0.8, 0.4, 0.3, 0.9, 0.6, 0.7, 0.95])
Y_TRUE_MC = np.array([0, 1, 2, 2, 1, 0, 1, 2])
Y_PRED_MC = np.array([0, 2, 2, 2, 1, 0, 1, 1])
Y_PROB_MC = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.1, 0.3, 0.6],
        [0.1, 0.2, 0.7],
        [0.2, 0.2, 0.6],
        [0.2, 0.6, 0.2],
        [0.8, 0.1, 0.1],
        [0.3, 0.5, 0.2],
        [0.2, 0.5, 0.3],
    ]
)


def test_registry_has_every_label() -> None:
    assert sorted(metric_labels()) == sorted(ALL_LABELS)
    assert METRICS["mean_absolute_error"].direction == "min"
    assert METRICS["absolute_average_fold_error"].direction == 1
    assert {label for label, info in METRICS.items() if info.y_type == "y_prob"} == {
        "pr_auc",
        "roc_auc",
        "roc_auc_ovr",
        "roc_auc_ovo",
    }


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("mean_absolute_error", skm.mean_absolute_error(Y_TRUE_REG, Y_PRED_REG)),
        ("mean_squared_error", skm.mean_squared_error(Y_TRUE_REG, Y_PRED_REG)),
        ("r2", skm.r2_score(Y_TRUE_REG, Y_PRED_REG)),
        ("pearsonr", stats.pearsonr(Y_TRUE_REG, Y_PRED_REG).statistic),
        ("spearmanr", stats.spearmanr(Y_TRUE_REG, Y_PRED_REG).statistic),
        ("explained_var", skm.explained_variance_score(Y_TRUE_REG, Y_PRED_REG)),
        ("absolute_average_fold_error", float(np.mean(np.abs(Y_PRED_REG) / np.abs(Y_TRUE_REG)))),
    ],
)
def test_regression_metrics(label: str, expected: float) -> None:
    assert Metric(label=label).score(Y_TRUE_REG, y_pred=Y_PRED_REG) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("label", "kwargs", "expected"),
    [
        ("accuracy", {"y_pred": Y_PRED_CLS}, skm.accuracy_score(Y_TRUE_CLS, Y_PRED_CLS)),
        ("balanced_accuracy", {"y_pred": Y_PRED_CLS}, skm.balanced_accuracy_score(Y_TRUE_CLS, Y_PRED_CLS)),
        ("mcc", {"y_pred": Y_PRED_CLS}, skm.matthews_corrcoef(Y_TRUE_CLS, Y_PRED_CLS)),
        ("cohen_kappa", {"y_pred": Y_PRED_CLS}, skm.cohen_kappa_score(Y_TRUE_CLS, Y_PRED_CLS)),
        ("f1", {"y_pred": Y_PRED_CLS}, skm.f1_score(Y_TRUE_CLS, Y_PRED_CLS)),
        ("pr_auc", {"y_prob": Y_PROB_CLS}, skm.average_precision_score(Y_TRUE_CLS, Y_PROB_CLS)),
        ("roc_auc", {"y_prob": Y_PROB_CLS}, skm.roc_auc_score(Y_TRUE_CLS, Y_PROB_CLS)),
    ],
)
def test_binary_metrics(label: str, kwargs: dict[str, Any], expected: float) -> None:
    assert Metric(label=label).score(Y_TRUE_CLS, **kwargs) == pytest.approx(expected)


def test_multiclass_metrics() -> None:
    assert Metric(label="f1_macro").score(Y_TRUE_MC, y_pred=Y_PRED_MC) == pytest.approx(
        skm.f1_score(Y_TRUE_MC, Y_PRED_MC, average="macro")
    )
    assert Metric(label="f1_micro").score(Y_TRUE_MC, y_pred=Y_PRED_MC) == pytest.approx(
        skm.f1_score(Y_TRUE_MC, Y_PRED_MC, average="micro")
    )
    assert Metric(label="roc_auc_ovr").score(Y_TRUE_MC, y_prob=Y_PROB_MC) == pytest.approx(
        skm.roc_auc_score(Y_TRUE_MC, Y_PROB_MC, multi_class="ovr")
    )
    assert Metric(label="roc_auc_ovo").score(Y_TRUE_MC, y_prob=Y_PROB_MC) == pytest.approx(
        skm.roc_auc_score(Y_TRUE_MC, Y_PROB_MC, multi_class="ovo")
    )


def test_metric_specific_errors() -> None:
    with pytest.raises(ValueError, match="contains 0"):
        Metric(label="absolute_average_fold_error").score([0.0, 1.0], y_pred=[1.0, 1.0])
    with pytest.raises(ValueError, match="no positive"):
        Metric(label="pr_auc").score([0, 0, 0], y_prob=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="needs y_prob"):
        Metric(label="roc_auc").score([0, 1], y_pred=[0, 1])
    with pytest.raises(ValueError, match="3 true values but 2"):
        Metric(label="r2").score([1.0, 2.0, 3.0], y_pred=[1.0, 2.0])
    with pytest.raises(NotImplementedError, match="RDKit"):
        Metric(label="rmsd_coverage").score(["a"], y_pred=["b"])


def test_missing_true_values_are_dropped() -> None:
    y_true = np.array([1.0, np.nan, 3.0, 4.0])
    y_pred = np.array([1.5, 100.0, 2.5, 4.0])
    expected = skm.mean_absolute_error([1.0, 3.0, 4.0], [1.5, 2.5, 4.0])
    assert Metric(label="mean_absolute_error").score(y_true, y_pred=y_pred) == pytest.approx(expected)
    y_true_obj = np.array([1, None, 0, 1], dtype=object)
    assert Metric(label="accuracy").score(y_true_obj, y_pred=[1, 0, 0, 0]) == pytest.approx(2 / 3)


# ---------------------------------------------------------------------------------------------------------------------
# Wire form
# ---------------------------------------------------------------------------------------------------------------------


def test_wire_form_default_and_grouped() -> None:
    assert Metric.model_validate("r2").to_wire() == {"label": "r2", "kind": "default", "name": "r2"}
    grouped = Metric.model_validate(
        {"label": "pearsonr", "config": {"group_by": "cls", "on_error": "raise", "aggregation": "mean"}}
    )
    expected = {
        "label": "pearsonr",
        "config": {"group_by": "cls", "on_error": "raise", "aggregation": "mean"},
        "kind": "grouped",
        "name": "pearsonr_grouped",
    }
    assert grouped.to_wire() == expected
    assert grouped.model_dump() == expected
    assert grouped.kind == "grouped" and grouped.direction == "max" and grouped.y_type == "y_pred"
    # round trip, with the kind ignored on input
    assert Metric.model_validate({**expected, "kind": "default"}) == grouped
    with_default = Metric.model_validate(
        {"label": "r2", "config": {"group_by": "g", "on_error": "default", "default": 0.0}}
    )
    assert with_default.to_wire()["config"] == {
        "group_by": "g",
        "on_error": "default",
        "default": 0.0,
        "aggregation": "mean",
    }


def test_name_on_input_sets_custom_name() -> None:
    metric = Metric.model_validate({"label": "mean_absolute_error", "name": "mae", "kind": "default"})
    assert metric.custom_name == "mae" and metric.name == "mae"
    assert metric.to_wire() == {"label": "mean_absolute_error", "kind": "default", "name": "mae"}
    assert Metric.model_validate(metric.to_wire()) == metric
    assert metric.checksum_string() == "mean_absolute_error"


def test_positional_label_and_hashable() -> None:
    assert Metric("r2") == Metric(label="r2") == Metric.model_validate("r2")
    assert len({Metric("r2"), Metric(label="r2"), Metric("mcc")}) == 2


def test_unknown_label_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown metric label 'rmse'"):
        Metric.model_validate("rmse")


def test_grouped_config_rules() -> None:
    with pytest.raises(ValidationError, match="default is required"):
        GroupedMetricConfig(group_by="g", on_error="default")
    with pytest.raises(ValidationError):
        GroupedMetricConfig(group_by="g", aggregation="max")


# ---------------------------------------------------------------------------------------------------------------------
# Grouped scoring
# ---------------------------------------------------------------------------------------------------------------------

G_TRUE = np.array([1.0, 2.0, 3.0, 10.0, 12.0, 20.0, 5.0])
G_PRED = np.array([1.5, 2.0, 2.0, 11.0, 12.0, 19.0, 0.0])
G_GROUPS = np.array(["a", "a", "a", "b", "b", "b", "c"])


def _per_group(label: str) -> dict[str, float]:
    fn = {"mean_absolute_error": skm.mean_absolute_error, "pearsonr": lambda t, p: stats.pearsonr(t, p).statistic}[
        label
    ]
    return {
        g: float(fn(G_TRUE[np.equal(G_GROUPS, g)], G_PRED[np.equal(G_GROUPS, g)]))
        for g in ("a", "b", "c")
        if label != "pearsonr" or g != "c"
    }


def test_grouped_mean_and_median() -> None:
    per = _per_group("mean_absolute_error")
    mean_metric = Metric.model_validate({"label": "mean_absolute_error", "config": {"group_by": "g"}})
    assert mean_metric.score(G_TRUE, y_pred=G_PRED, groups=G_GROUPS) == pytest.approx(np.mean(list(per.values())))
    median_metric = Metric.model_validate(
        {"label": "mean_absolute_error", "config": {"group_by": "g", "aggregation": "median"}}
    )
    assert median_metric.score(G_TRUE, y_pred=G_PRED, groups=G_GROUPS) == pytest.approx(np.median(list(per.values())))


def test_grouped_on_error_modes() -> None:
    # pearsonr fails for group "c" (a single row)
    raise_metric = Metric.model_validate({"label": "pearsonr", "config": {"group_by": "g"}})
    with pytest.raises(ValueError, match="group 'c'"):
        raise_metric.score(G_TRUE, y_pred=G_PRED, groups=G_GROUPS)
    per = _per_group("pearsonr")
    ignore_metric = Metric.model_validate({"label": "pearsonr", "config": {"group_by": "g", "on_error": "ignore"}})
    assert ignore_metric.score(G_TRUE, y_pred=G_PRED, groups=G_GROUPS) == pytest.approx(np.mean(list(per.values())))
    default_metric = Metric.model_validate(
        {"label": "pearsonr", "config": {"group_by": "g", "on_error": "default", "default": -1.0}}
    )
    assert default_metric.score(G_TRUE, y_pred=G_PRED, groups=G_GROUPS) == pytest.approx(np.mean([*per.values(), -1.0]))
    with pytest.raises(ValueError, match="needs the values of column 'g'"):
        raise_metric.score(G_TRUE, y_pred=G_PRED)


def test_score_records_sorted_and_nan_kept() -> None:
    y_true = {
        "test_b": {"y2": np.array([1.0, 2.0, 3.0]), "y1": np.array([1.0, 1.0, 1.0])},
        "test_a": {"y2": np.array([1.0, 2.0, 3.0]), "y1": np.array([3.0, 2.0, 1.0])},
    }
    y_pred = {t: {k: np.array([1.0, 2.0, 2.0]) for k in v} for t, v in y_true.items()}
    with pytest.warns(Warning):  # scipy warns about the constant input below
        records = score(["pearsonr", {"label": "mean_absolute_error", "name": "mae"}], y_true, y_pred)
    assert [(r["testSet"], r["targetLabel"]) for r in records] == [
        ("test_a", "y1"),
        ("test_a", "y2"),
        ("test_b", "y1"),
        ("test_b", "y2"),
    ]
    assert set(records[0]["scores"]) == {"pearsonr", "mae"}
    assert records[1]["scores"]["mae"] == pytest.approx(1 / 3)
    # Pearson r of a constant target is undefined -> NaN (stays NaN in memory)
    assert math.isnan(records[2]["scores"]["pearsonr"])


def test_score_with_groups_by_column() -> None:
    y_true = {"test": {"y": G_TRUE}}
    y_pred = {"test": {"y": G_PRED}}
    metric = {"label": "mean_absolute_error", "config": {"group_by": "g"}}
    by_array = score([metric], y_true, y_pred, groups={"test": G_GROUPS})
    by_column = score([metric], y_true, y_pred, groups={"test": {"g": G_GROUPS}})
    assert by_array == by_column
    assert by_array[0]["scores"]["mean_absolute_error_grouped"] == pytest.approx(
        np.mean(list(_per_group("mean_absolute_error").values()))
    )


def test_score_requires_prob_for_prob_metrics() -> None:
    with pytest.raises(ValueError, match="needs y_prob"):
        score(["roc_auc"], {"test": {"y": np.array([0, 1])}}, {"test": {"y": np.array([0, 1])}})
    with pytest.raises(ValueError, match="no metrics"):
        score([], {"test": {"y": np.array([0, 1])}}, {"test": {"y": np.array([0, 1])}})

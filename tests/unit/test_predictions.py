"""Prediction normalisation (Hub section 10.3)."""

from __future__ import annotations

import numpy as np
import pytest

from polaris.evaluate import normalize_predictions


def _assert_arrays(result: dict[str, dict[str, np.ndarray]], expected: dict[str, dict[str, list[float]]]) -> None:
    assert set(result) == set(expected)
    for test, per_target in expected.items():
        assert set(result[test]) == set(per_target)
        for target, values in per_target.items():
            assert isinstance(result[test][target], np.ndarray)
            assert result[test][target].tolist() == values


def test_flat_list_single_target_single_test() -> None:
    out = normalize_predictions([1.0, 2.0, 3.0], ["y"], ["test"], {"test": 3})
    _assert_arrays(out, {"test": {"y": [1.0, 2.0, 3.0]}})
    out = normalize_predictions(np.array([1.0, 2.0, 3.0]), ["y"], ["test"], {"test": 3})
    _assert_arrays(out, {"test": {"y": [1.0, 2.0, 3.0]}})


def test_by_test_set_single_target() -> None:
    out = normalize_predictions({"a": [1, 2], "b": [3]}, ["y"], ["a", "b"], {"a": 2, "b": 1})
    _assert_arrays(out, {"a": {"y": [1, 2]}, "b": {"y": [3]}})


def test_by_target_single_test_set() -> None:
    out = normalize_predictions({"y1": [1, 2], "y2": [3, 4]}, ["y1", "y2"], ["test"], {"test": 2})
    _assert_arrays(out, {"test": {"y1": [1, 2], "y2": [3, 4]}})


def test_full_form_any_shape() -> None:
    preds = {"a": {"y1": [1], "y2": [2]}, "b": {"y1": [3, 4], "y2": [5, 6]}}
    out = normalize_predictions(preds, ["y1", "y2"], ["a", "b"], {"a": 1, "b": 2})
    _assert_arrays(out, {"a": {"y1": [1], "y2": [2]}, "b": {"y1": [3, 4], "y2": [5, 6]}})
    # the full form also works for the single-target / single-test shape
    out = normalize_predictions({"test": {"y": [1, 2]}}, ["y"], ["test"], {"test": 2})
    _assert_arrays(out, {"test": {"y": [1, 2]}})


def test_multi_target_multi_test_requires_full_form() -> None:
    with pytest.raises(ValueError, match="several targets and several test sets"):
        normalize_predictions({"y1": [1], "y2": [2]}, ["y1", "y2"], ["a", "b"], {"a": 1, "b": 1})
    with pytest.raises(ValueError, match="one target and one test set"):
        normalize_predictions([1, 2], ["y1", "y2"], ["a", "b"], {"a": 1, "b": 1})


@pytest.mark.parametrize(
    ("preds", "targets", "tests", "sizes", "message"),
    [
        ([1.0, 2.0], ["y"], ["test"], {"test": 3}, "test set 'test', target 'y' have length 2, expected 3"),
        (
            {"a": [1], "b": [1, 2]},
            ["y"],
            ["a", "b"],
            {"a": 1, "b": 3},
            "test set 'b', target 'y' have length 2, expected 3",
        ),
        (
            {"y1": [1], "y2": [1, 2]},
            ["y1", "y2"],
            ["t"],
            {"t": 1},
            "test set 't', target 'y2' have length 2, expected 1",
        ),
        (
            {"a": {"y1": [1], "y2": [2, 3]}, "b": {"y1": [1], "y2": [2]}},
            ["y1", "y2"],
            ["a", "b"],
            {"a": 1, "b": 1},
            "test set 'a', target 'y2' have length 2, expected 1",
        ),
    ],
)
def test_length_errors_name_test_set_and_target(
    preds: object, targets: list[str], tests: list[str], sizes: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_predictions(preds, targets, tests, sizes)


def test_wrong_names() -> None:
    with pytest.raises(ValueError, match=r"expected one entry per test set: \['a', 'b'\]"):
        normalize_predictions({"a": [1], "c": [1]}, ["y"], ["a", "b"], {"a": 1, "b": 1})
    with pytest.raises(ValueError, match=r"have targets \['y3'\], expected \['y1', 'y2'\]"):
        normalize_predictions({"a": {"y3": [1]}}, ["y1", "y2"], ["a"], {"a": 1})
    with pytest.raises(ValueError, match="keyed by test sets"):
        normalize_predictions({"zz": {"y": [1]}}, ["y"], ["a"], {"a": 1})
    with pytest.raises(ValueError, match="scalar"):
        normalize_predictions(3.0, ["y"], ["a"], {"a": 1})
    with pytest.raises(ValueError, match="no predictions"):
        normalize_predictions(None, ["y"], ["a"], {"a": 1})

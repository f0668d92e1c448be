"""What :class:`~polaris.artifacts.Subset` and :class:`~polaris.artifacts.ZarrSubset` share: polaris-lib's
``inputs``/``targets``/``as_array`` shapes and the ``featurization_fn`` applied to each input."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from polaris.errors import InvalidArtifactError

__all__ = ["SubsetLike", "as_array", "check_featurization_fn", "hidden_targets_error"]


class SubsetLike(Protocol):
    indices: list[int]
    input_cols: list[str]
    target_cols: list[str]
    hide_targets: bool
    featurization_fn: Callable[[Any], Any] | None

    def _x(self, i: int) -> Any: ...

    def _column_array(self, col: str) -> npt.NDArray[Any]: ...


def check_featurization_fn(fn: Any) -> Callable[[Any], Any] | None:
    """``fn`` if it is ``None`` or callable.

    Raises:
        TypeError: anything else.
    """
    if fn is not None and not callable(fn):
        raise TypeError(f"featurization_fn must be a function of one input, got {type(fn).__name__}")
    return fn  # type: ignore[no-any-return]


def hidden_targets_error() -> InvalidArtifactError:
    return InvalidArtifactError(
        "the targets of a test set are hidden",
        hint="Predict them and pass the predictions to benchmark.evaluate(y_pred=...).",
    )


def _stack(values: Sequence[Any]) -> npt.NDArray[Any]:
    try:
        return np.asarray(values)
    except ValueError:  # ragged features (e.g. fingerprints of different lengths)
        out = np.empty(len(values), dtype=object)
        out[:] = list(values)
        return out


def as_array(subset: SubsetLike, data_type: str) -> Any:
    """polaris-lib's ``Subset.as_array``: ``"x"`` the inputs (featurized when a ``featurization_fn`` is set),
    ``"y"`` the targets, ``"xy"`` both. One column gives an array, several give ``{column: array}``.

    Raises:
        InvalidArtifactError: ``"y"``/``"xy"`` of a test set (its targets are hidden).
        ValueError: another ``data_type``.
    """
    if data_type == "xy":
        return as_array(subset, "x"), as_array(subset, "y")
    if data_type == "x":
        if subset.featurization_fn is not None:
            return _stack([subset._x(i) for i in subset.indices])
        cols = subset.input_cols
    elif data_type == "y":
        if subset.hide_targets:
            raise hidden_targets_error()
        cols = subset.target_cols
    else:
        raise ValueError(f"data_type must be 'x', 'y' or 'xy', got {data_type!r}")
    if len(cols) == 1:
        return subset._column_array(cols[0])
    return {c: subset._column_array(c) for c in cols}

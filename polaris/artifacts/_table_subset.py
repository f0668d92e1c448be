"""The V1 benchmark's :class:`Subset`: rows of a table dataset (:class:`DatasetV1`) seen through a benchmark.

Re-exported by :mod:`polaris.artifacts.benchmark` and :mod:`polaris.artifacts`; the V2 / competition counterpart is
:class:`polaris.artifacts._zarr_subset.ZarrSubset`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from polaris.artifacts._subset_common import as_array, check_featurization_fn, hidden_targets_error
from polaris.artifacts.dataset import DatasetV1
from polaris.errors import InvalidArtifactError

__all__ = ["Subset"]


class Subset:
    """Rows of a dataset seen through a benchmark: inputs, and targets unless hidden (test sets).

    Iterating yields ``(x, y)``, or only ``x`` when targets are hidden; ``x``/``y`` are single values for a single
    column, else ``{column: value}``; ``featurization_fn`` (polaris-lib's ``get_train_test_split(featurization_fn=)``)
    is applied to each ``x``. Pointer cells are read from the dataset's Zarr archive.

    ``X``/``y`` are arrays (2-D for several columns); ``inputs``/``targets`` (``as_array``) are polaris-lib's shapes:
    an array for one column, ``{column: array}`` for several, the featurized inputs when a function is set.
    """

    def __init__(
        self,
        dataset: DatasetV1,
        indices: Sequence[int],
        input_cols: Sequence[str],
        target_cols: Sequence[str],
        *,
        hide_targets: bool = False,
        featurization_fn: Callable[[Any], Any] | None = None,
    ) -> None:
        if dataset.table is None:
            raise InvalidArtifactError("the benchmark's dataset has no table loaded")
        self.dataset = dataset
        self.indices = [int(i) for i in indices]
        self.input_cols = list(input_cols)
        self.target_cols = list(target_cols)
        self.hide_targets = hide_targets
        self.featurization_fn = check_featurization_fn(featurization_fn)

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        kind = "test" if self.hide_targets else "train"
        return f"Subset({kind}, {len(self)} rows, inputs={self.input_cols}, targets={self.target_cols})"

    def _row(self, i: int, cols: Sequence[str]) -> Any:
        values = {c: self.dataset.get_data(i, c) for c in cols}
        return values[cols[0]] if len(cols) == 1 else values

    def _x(self, i: int) -> Any:
        x = self._row(i, self.input_cols)
        return x if self.featurization_fn is None else self.featurization_fn(x)

    def __iter__(self) -> Iterator[Any]:
        for i in self.indices:
            x = self._x(i)
            if self.hide_targets:
                yield x
            else:
                yield x, self._row(i, self.target_cols)

    def __getitem__(self, item: int) -> Any:
        i = self.indices[item]
        x = self._x(i)
        return x if self.hide_targets else (x, self._row(i, self.target_cols))

    def _column(self, col: str) -> npt.NDArray[Any]:
        ann = self.dataset.annotations.get(col)
        if ann is not None and ann.is_pointer:
            return np.array([self.dataset.get_data(i, col) for i in self.indices])
        assert self.dataset.table is not None
        values: npt.NDArray[Any] = self.dataset.table[col].iloc[self.indices].to_numpy()
        return values

    _column_array = _column

    def _columns(self, cols: Sequence[str]) -> npt.NDArray[Any]:
        if len(cols) == 1:
            return self._column(cols[0])
        return np.stack([self._column(c) for c in cols], axis=1)

    @property
    def X(self) -> npt.NDArray[Any]:
        """Inputs: 1-D for one input column, else ``(rows, columns)``."""
        return self._columns(self.input_cols)

    @property
    def y(self) -> npt.NDArray[Any]:
        """Targets: 1-D for one target, else ``(rows, targets)``.

        Raises:
            InvalidArtifactError: targets are hidden (a test set).
        """
        if self.hide_targets:
            raise hidden_targets_error()
        return self._columns(self.target_cols)

    @property
    def is_multi_task(self) -> bool:
        return len(self.target_cols) > 1

    @property
    def is_multi_input(self) -> bool:
        return len(self.input_cols) > 1

    def as_array(self, data_type: str) -> Any:
        """``"x"``, ``"y"`` or ``"xy"`` in polaris-lib's shapes (see :func:`polaris.artifacts._subset_common.as_array`).

        Raises:
            InvalidArtifactError: targets of a test set. ValueError: another ``data_type``.
        """
        return as_array(self, data_type)

    @property
    def inputs(self) -> Any:
        """``as_array("x")``: the inputs, featurized when a ``featurization_fn`` is set."""
        return as_array(self, "x")

    @property
    def targets(self) -> Any:
        """``as_array("y")``.

        Raises:
            InvalidArtifactError: targets are hidden (a test set).
        """
        return as_array(self, "y")

    def filter_targets(self, target_cols: str | Sequence[str]) -> Subset:
        """A copy seeing only ``target_cols`` (each must be one of this subset's targets).

        Raises:
            ValueError: a column that is not a target.
        """
        cols = [target_cols] if isinstance(target_cols, str) else list(target_cols)
        unknown = [c for c in cols if c not in self.target_cols]
        if unknown or not cols:
            raise ValueError(f"filter_targets: {unknown or cols} are not among the targets {self.target_cols}")
        return Subset(
            self.dataset,
            self.indices,
            self.input_cols,
            cols,
            hide_targets=self.hide_targets,
            featurization_fn=self.featurization_fn,
        )

    def as_dataframe(self) -> pd.DataFrame:
        """Inputs (and targets unless hidden) of these rows, with a fresh 0..n-1 index."""
        assert self.dataset.table is not None
        cols = self.input_cols + (
            [] if self.hide_targets else [c for c in self.target_cols if c not in self.input_cols]
        )
        frame: pd.DataFrame = self.dataset.table[cols].iloc[self.indices].reset_index(drop=True)
        return frame

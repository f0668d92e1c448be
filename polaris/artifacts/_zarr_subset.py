"""Rows of a Zarr-only dataset (``DatasetV2``) seen through a split: subsets of V2 benchmarks and 0.11+ competitions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from polaris.artifacts._subset_common import as_array, check_featurization_fn, hidden_targets_error

if TYPE_CHECKING:
    import pandas as pd

    from polaris.artifacts.dataset import DatasetV2

__all__ = ["ZarrSubset", "column_values"]


def column_values(dataset: DatasetV2, col: str, indices: Sequence[int]) -> npt.NDArray[Any]:
    """Values of one top-level array (or group) of ``dataset`` at these row positions, in the given order.

    Raises:
        InvalidArtifactError: the archive is not available here.
        KeyError: no such column.
    """
    import zarr

    node: Any = dataset.zarr_root[col]
    idx = [int(i) for i in indices]
    if isinstance(node, zarr.Group):
        return np.array([dataset.get_data(i, col) for i in idx], dtype=object)
    if not idx:
        return np.asarray(node[0:0])
    order = np.asarray(idx)
    unique, inverse = np.unique(order, return_inverse=True)
    values = np.asarray(node.get_orthogonal_selection((unique,)))
    return values[inverse]


class ZarrSubset:
    """Rows of a :class:`~polaris.artifacts.DatasetV2` seen through a benchmark: inputs, and targets unless hidden.

    Same interface as :class:`~polaris.artifacts.Subset`: iterating yields ``(x, y)`` (or ``x`` when targets are
    hidden); ``X``/``y`` are arrays; a single column gives single values, several give ``{column: value}``;
    ``inputs``/``targets``/``as_array`` have polaris-lib's shapes and ``featurization_fn`` is applied to each ``x``.

    A test set has a ``label`` (``"test"``). polaris-lib 0.13 returns a V2 benchmark's test sets as
    ``{label: subset}``, 0.11 as the subset itself; a labelled subset serves both: ``test["test"]`` is the subset,
    and ``keys()``/``values()``/``items()`` answer as that one-entry mapping does.
    """

    def __init__(
        self,
        dataset: DatasetV2,
        indices: Sequence[int],
        input_cols: Sequence[str],
        target_cols: Sequence[str],
        *,
        hide_targets: bool = False,
        featurization_fn: Callable[[Any], Any] | None = None,
        label: str | None = None,
    ) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]
        self.input_cols = list(input_cols)
        self.target_cols = list(target_cols)
        self.hide_targets = hide_targets
        self.featurization_fn = check_featurization_fn(featurization_fn)
        self.label = label

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        kind = self.label or ("test" if self.hide_targets else "train")
        return f"ZarrSubset({kind}, {len(self)} rows, inputs={self.input_cols}, targets={self.target_cols})"

    def _row(self, i: int, cols: Sequence[str]) -> Any:
        values = {c: self.dataset.get_data(i, c) for c in cols}
        return values[cols[0]] if len(cols) == 1 else values

    def _x(self, i: int) -> Any:
        x = self._row(i, self.input_cols)
        return x if self.featurization_fn is None else self.featurization_fn(x)

    def __iter__(self) -> Iterator[Any]:
        for i in self.indices:
            x = self._x(i)
            yield x if self.hide_targets else (x, self._row(i, self.target_cols))

    def __getitem__(self, item: int | str) -> Any:
        if isinstance(item, str):
            if self.label is not None and item == self.label:
                return self
            raise KeyError(f"no test set {item!r}; this benchmark's test set is {self.label!r}")
        i = self.indices[item]
        x = self._x(i)
        return x if self.hide_targets else (x, self._row(i, self.target_cols))

    # -- the one-entry mapping polaris-lib 0.13 returns for a V2 benchmark's test sets ------------------------------

    def _as_mapping(self) -> dict[str, ZarrSubset]:
        if self.label is None:
            raise TypeError("only a labelled test set can be used as {label: subset}")
        return {self.label: self}

    def keys(self) -> Any:
        return self._as_mapping().keys()

    def values(self) -> Any:
        return self._as_mapping().values()

    def items(self) -> Any:
        return self._as_mapping().items()

    # -- arrays ---------------------------------------------------------------------------------------------------

    def _column_array(self, col: str) -> npt.NDArray[Any]:
        return column_values(self.dataset, col, self.indices)

    def _columns(self, cols: Sequence[str]) -> npt.NDArray[Any]:
        if len(cols) == 1:
            return column_values(self.dataset, cols[0], self.indices)
        return np.stack([column_values(self.dataset, c, self.indices) for c in cols], axis=1)

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
        """``"x"``, ``"y"`` or ``"xy"`` in polaris-lib's shapes.

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

    def as_dataframe(self) -> pd.DataFrame:
        """Inputs (and targets unless hidden) of these rows as a DataFrame with a 0..n-1 index."""
        import pandas as pd

        cols = self.input_cols + (
            [] if self.hide_targets else [c for c in self.target_cols if c not in self.input_cols]
        )
        return pd.DataFrame({c: list(column_values(self.dataset, c, self.indices)) for c in cols})

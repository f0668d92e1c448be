"""Rows of a Zarr-only dataset (``DatasetV2``) seen through a split: subsets of V2 benchmarks and 0.11+ competitions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from polaris.errors import InvalidArtifactError

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
    hidden); ``X``/``y`` are arrays; a single column gives single values, several give ``{column: value}``.
    """

    def __init__(
        self,
        dataset: DatasetV2,
        indices: Sequence[int],
        input_cols: Sequence[str],
        target_cols: Sequence[str],
        *,
        hide_targets: bool = False,
    ) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]
        self.input_cols = list(input_cols)
        self.target_cols = list(target_cols)
        self.hide_targets = hide_targets

    def __len__(self) -> int:
        return len(self.indices)

    def _row(self, i: int, cols: Sequence[str]) -> Any:
        values = {c: self.dataset.get_data(i, c) for c in cols}
        return values[cols[0]] if len(cols) == 1 else values

    def __iter__(self) -> Iterator[Any]:
        for i in self.indices:
            x = self._row(i, self.input_cols)
            yield x if self.hide_targets else (x, self._row(i, self.target_cols))

    def __getitem__(self, item: int) -> Any:
        i = self.indices[item]
        x = self._row(i, self.input_cols)
        return x if self.hide_targets else (x, self._row(i, self.target_cols))

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
            raise InvalidArtifactError("the targets of a test set are hidden")
        return self._columns(self.target_cols)

    @property
    def inputs(self) -> npt.NDArray[Any]:
        return self.X

    @property
    def targets(self) -> npt.NDArray[Any]:
        return self.y

    def as_dataframe(self) -> pd.DataFrame:
        """Inputs (and targets unless hidden) of these rows as a DataFrame with a 0..n-1 index."""
        import pandas as pd

        cols = self.input_cols + (
            [] if self.hide_targets else [c for c in self.target_cols if c not in self.input_cols]
        )
        return pd.DataFrame({c: list(column_values(self.dataset, c, self.indices)) for c in cols})

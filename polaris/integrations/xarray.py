"""Hub datasets as ``xarray.Dataset`` objects backed by Dask arrays (see :mod:`polaris.integrations.dask`)."""

from __future__ import annotations

from typing import Any

from polaris.integrations.dask import to_dask

__all__ = ["to_xarray"]

ROW_DIM = "row"


def to_xarray(dataset: Any, *, client: Any = None) -> Any:
    """One variable per column (V1: table columns and pointer columns; V2: top-level arrays), dimension ``row``.

    Further dimensions are named ``<column>_dim_<i>``. Zarr groups (V2 columns of named members) are left out.
    """
    import xarray as xr
    import zarr

    from polaris.artifacts.dataset import DatasetV1

    variables: dict[str, Any] = {}
    if isinstance(dataset, DatasetV1):
        columns = list(dataset.columns)
    else:
        columns = [k for k, node in dataset.zarr_root.members() if isinstance(node, zarr.Array)]
    for column in sorted(columns) if not isinstance(dataset, DatasetV1) else columns:
        darr = to_dask(dataset, column, client=client)
        dims = [ROW_DIM] + [f"{column}_dim_{i}" for i in range(1, darr.ndim)]
        variables[column] = (dims, darr)
    return xr.Dataset(variables, attrs={"name": dataset.name or "", "artifact_id": dataset.artifact_id or ""})

"""Hub datasets as Dask arrays, read in parallel straight from storage.

In one process (threaded scheduler) the arrays read through the dataset's own lazy store. With a
``dask.distributed`` client, the graph carries a copy of the store whose credentials come from a
``distributed.Variable``: a read-scoped storage token that the client process renews before it expires
(:class:`polaris.hub.storage.lazy.StorageTokenPublisher`). Workers never receive the Hub token.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from polaris.errors import InvalidArtifactError

__all__ = ["default_dask_client", "to_dask"]


def _da() -> Any:
    """``dask.array`` (untyped), imported when first needed."""
    import importlib

    return importlib.import_module("dask.array")


def default_dask_client() -> Any:
    """The current ``dask.distributed`` client, or ``None`` (no distributed installed or none running)."""
    import importlib

    try:
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        return None
    try:
        return distributed.default_client()
    except ValueError:
        return None


def _array_for(dataset: Any, path: str, client: Any) -> Any:
    """The zarr array at ``path`` of the dataset's archive, opened over a store suited to the scheduler."""
    remote = getattr(dataset, "_remote", None)
    if remote is None:
        return dataset.zarr_root[path]
    if client is None:
        client = default_dask_client()
    if client is None:
        return dataset.zarr_root[path]
    return remote.group(remote.store_for_workers(client))[path]


def _name(dataset: Any, column: str, array: Any) -> str:
    store = getattr(array, "store", None)
    where = getattr(store, "store_url", None) or str(getattr(dataset, "zarr_root_path", ""))
    token = hashlib.md5(f"{where}|{array.path}|{array.shape}|{array.chunks}".encode()).hexdigest()[:16]
    return f"polaris-{column}-{token}"


def to_dask(dataset: Any, column: str, *, client: Any = None) -> Any:
    """A lazy Dask array of ``column``.

    V2 datasets: the top-level array ``column``. V1 datasets: the rows of the pointer column ``column``, i.e. the
    array its pointers name (``path#i``, in table order) or, for whole-array pointers, the arrays stacked.

    Raises:
        InvalidArtifactError: the column does not hold Zarr data (or its pointers mix arrays).
        KeyError: no such column.
    """
    from polaris.artifacts.dataset import DatasetV1, parse_pointer

    da = _da()

    if isinstance(dataset, DatasetV1):
        if dataset.table is None:
            raise InvalidArtifactError("this dataset has no table loaded")
        if column not in dataset.pointer_columns:
            return da.from_array(np.asarray(dataset.table[column].to_numpy()), chunks=-1)
        pointers = [parse_pointer(v) for v in dataset.table[column]]
        paths = {p for p, _ in pointers}
        if all(index is None for _, index in pointers):
            arrays = [_from_zarr(dataset, p, column, client) for p, _ in pointers]
            return da.stack(arrays) if arrays else da.empty((0,))
        if len(paths) != 1 or any(not isinstance(index, int) for _, index in pointers):
            raise InvalidArtifactError(
                f"column {column!r} points into several arrays or uses slices; read it row by row with get_data"
            )
        darr = _from_zarr(dataset, paths.pop(), column, client)
        indices = np.asarray([index for _, index in pointers], dtype=np.int64)
        if len(indices) == darr.shape[0] and np.array_equal(indices, np.arange(len(indices))):
            return darr
        return darr[indices]
    return _from_zarr(dataset, column, column, client)


def _from_zarr(dataset: Any, path: str, column: str, client: Any) -> Any:
    import zarr

    da = _da()

    array = _array_for(dataset, path, client)
    if not isinstance(array, zarr.Array):
        raise InvalidArtifactError(f"{path!r} is a Zarr group, not an array; read it row by row with get_data")
    # inline: every task carries the (small) array handle, so no task waits for another worker to hand it over;
    # the manifest itself reaches workers through a Variable, not through the tasks
    return da.from_zarr(array, name=_name(dataset, column, array), inline_array=True)

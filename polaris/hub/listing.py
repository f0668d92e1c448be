"""Listings as pandas DataFrames, for notebooks: one row per artifact with owner, name, kind, version, access, size.

Example (in Jupyter the frame renders as a table)::

    from polaris.hub.client import PolarisHubClient
    from polaris.hub.listing import datasets_frame

    with PolarisHubClient() as client:
        frame = datasets_frame(client, owner="polaris-demo")
    frame.sort_values("size_bytes", ascending=False)

``access`` and ``size_bytes`` come from each artifact's metadata (one request per row; ``details=False`` skips
them). ``size_bytes`` is the stored table plus its Zarr files for V1 datasets, and ``None`` where the Hub does
not say (V2 archives, benchmarks). pandas is imported only when a frame is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from polaris.hub.client import PolarisHubClient

__all__ = ["COLUMNS", "benchmarks_frame", "competitions_frame", "datasets_frame", "rows_to_frame"]

#: Columns of every listing frame, in order.
COLUMNS = ("artifact", "owner", "name", "kind", "version", "access", "size_bytes")


def rows_to_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A DataFrame with :data:`COLUMNS` (missing values are ``None``)."""
    import pandas as pd

    records = [{column: row.get(column) for column in COLUMNS} for row in rows]
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def _matches(artifact_id: str, owner: str | None, contains: str | None) -> bool:
    item_owner = artifact_id.partition("/")[0]
    if owner is not None and item_owner.lower() != owner.lower():
        return False
    return contains is None or contains.lower() in artifact_id.lower()


def _dataset_size(data: Mapping[str, Any]) -> int | None:
    table = data.get("tableContent")
    if not isinstance(table, Mapping) or not isinstance(table.get("size"), int):
        return None
    zarr = data.get("zarrContent") or []
    return int(table["size"]) + sum(int(e.get("size") or 0) for e in zarr if isinstance(e, Mapping))


def _rows(
    names: Iterable[str],
    *,
    kind: str,
    version: int,
    owner: str | None,
    contains: str | None,
    details: Callable[[str, str], Mapping[str, Any]] | None,
    size: Callable[[Mapping[str, Any]], int | None] | None = None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for artifact_id in names:
        if not _matches(artifact_id, owner, contains):
            continue
        item_owner, _, name = artifact_id.partition("/")
        row: dict[str, Any] = {
            "artifact": artifact_id,
            "owner": item_owner,
            "name": name,
            "kind": kind,
            "version": version,
        }
        if details is not None:
            data = details(item_owner, name)
            row["access"] = data.get("access")
            row["size_bytes"] = size(data) if size is not None else None
        rows.append(row)
    return rows


def datasets_frame(
    client: PolarisHubClient,
    *,
    owner: str | None = None,
    contains: str | None = None,
    details: bool = True,
    page_size: int = 100,
) -> pd.DataFrame:
    """Every dataset you can see, as a DataFrame with :data:`COLUMNS`.

    Args:
        owner: only this owner's datasets. contains: only ids containing this text (case-insensitive).
        details: read each dataset's metadata for ``access`` and ``size_bytes``.

    Raises: as :meth:`PolarisHubClient.list_datasets` (and ``get`` of each dataset's metadata with ``details``).
    """
    wire = client._wire
    rows = _rows(
        client.iter_datasets(page_size=page_size),
        kind="dataset",
        version=1,
        owner=owner,
        contains=contains,
        details=wire.get_dataset_v1 if details else None,
        size=_dataset_size,
    )
    return rows_to_frame(rows)


def benchmarks_frame(
    client: PolarisHubClient,
    *,
    owner: str | None = None,
    contains: str | None = None,
    details: bool = True,
    page_size: int = 100,
) -> pd.DataFrame:
    """Every benchmark you can see, as a DataFrame with :data:`COLUMNS` (``size_bytes`` is ``None``).

    Raises: as :meth:`PolarisHubClient.list_benchmarks`.
    """
    rows = _rows(
        client.iter_benchmarks(page_size=page_size),
        kind="benchmark",
        version=1,
        owner=owner,
        contains=contains,
        details=client._wire.get_benchmark if details else None,
    )
    return rows_to_frame(rows)


def competitions_frame(
    client: PolarisHubClient,
    *,
    owner: str | None = None,
    contains: str | None = None,
    details: bool = True,
    page_size: int = 100,
) -> pd.DataFrame:
    """Every competition you can see, as a DataFrame with :data:`COLUMNS` (``size_bytes`` is ``None``).

    Raises: as :meth:`PolarisHubClient.list_competitions`.
    """
    rows = _rows(
        client.iter_competitions(page_size=page_size),
        kind="competition",
        version=2,
        owner=owner,
        contains=contains,
        details=client._wire.get_competition if details else None,
    )
    return rows_to_frame(rows)

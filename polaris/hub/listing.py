"""Listings as pandas DataFrames, for notebooks: one row per artifact with owner, name, kind, version, access, size.

Example (in Jupyter the frame renders as a table)::

    from polaris.hub.client import PolarisHubClient
    from polaris.hub.listing import datasets_frame

    with PolarisHubClient() as client:
        frame = datasets_frame(client, owner="polaris-demo")
    frame.sort_values("size_bytes", ascending=False)

V2 artifacts come first, then V1, as the Hub pages them. ``size_bytes`` is the stored table plus its Zarr files
for V1 datasets (one metadata request per dataset; ``details=False`` skips it), and ``None`` where the Hub does not
say (V2 archives, benchmarks, competitions, models). pandas is imported only when a frame is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from polaris.hub.wire import ArtifactSummary, Page
    from polaris.hub.wire.core import ArtifactKind


class ListingClient(Protocol):
    """What the frames need of a :class:`~polaris.hub.client.PolarisHubClient`."""

    def iter_artifacts(self, kind: ArtifactKind, page_size: int = ...) -> Iterator[ArtifactSummary]: ...

    def _v1_dataset_metadata(self, owner: str, name: str) -> dict[str, Any]: ...


__all__ = [
    "COLUMNS",
    "benchmarks_frame",
    "competitions_frame",
    "datasets_frame",
    "datasets_page_frame",
    "models_frame",
    "page_frame",
    "rows_to_frame",
    "v1_dataset_size",
]

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


def _row(summary: ArtifactSummary, size: Callable[[ArtifactSummary], int | None] | None) -> dict[str, Any]:
    return {
        "artifact": summary.artifact_id,
        "owner": summary.owner,
        "name": summary.artifact_id.partition("/")[2] or summary.name,
        "kind": summary.kind,
        "version": summary.version,
        "access": summary.extra.get("access"),
        "size_bytes": size(summary) if size is not None else None,
    }


def _frame(
    client: ListingClient,
    kind: ArtifactKind,
    *,
    owner: str | None,
    contains: str | None,
    page_size: int,
    size: Callable[[ArtifactSummary], int | None] | None = None,
) -> pd.DataFrame:
    summaries = client.iter_artifacts(kind, page_size=page_size)
    return rows_to_frame(_row(s, size) for s in summaries if _matches(s.artifact_id, owner, contains))


def v1_dataset_size(
    get_v1: Callable[[str, str], Mapping[str, Any]],
) -> Callable[[ArtifactSummary], int | None]:
    """``size_bytes`` of a listed V1 dataset, from its metadata (``get_v1(owner, name)``: one request each)."""

    def size(summary: ArtifactSummary) -> int | None:
        if summary.version != 1:
            return None
        item_owner, _, name = summary.artifact_id.partition("/")
        return _dataset_size(get_v1(item_owner, name))

    return size


def page_frame(page: Page, *, size: Callable[[ArtifactSummary], int | None] | None = None) -> pd.DataFrame:
    """One listing page of any kind as a DataFrame (``client.list_*(as_frame=True)``)."""
    return rows_to_frame(_row(s, size) for s in page.entries)


def datasets_page_frame(client: ListingClient, page: Page, *, details: bool = True) -> pd.DataFrame:
    """One listing page of datasets as a DataFrame, ``size_bytes`` of V1 datasets included with ``details``."""
    return page_frame(page, size=v1_dataset_size(client._v1_dataset_metadata) if details else None)


def datasets_frame(
    client: ListingClient,
    *,
    owner: str | None = None,
    contains: str | None = None,
    details: bool = True,
    page_size: int = 100,
) -> pd.DataFrame:
    """Every dataset you can see (V2 and V1), as a DataFrame with :data:`COLUMNS`.

    Args:
        owner: only this owner's datasets. contains: only ids containing this text (case-insensitive).
        details: read each V1 dataset's metadata for ``size_bytes`` (one request per dataset).

    Raises: as :meth:`~polaris.hub.client.PolarisHubClient.list_datasets` (and reading V1 datasets with ``details``).
    """
    return _frame(
        client,
        "dataset",
        owner=owner,
        contains=contains,
        page_size=page_size,
        size=v1_dataset_size(client._v1_dataset_metadata) if details else None,
    )


def benchmarks_frame(
    client: ListingClient, *, owner: str | None = None, contains: str | None = None, page_size: int = 100
) -> pd.DataFrame:
    """Every benchmark you can see (V2 and V1), as a DataFrame with :data:`COLUMNS` (``size_bytes`` is ``None``).

    Raises: as :meth:`~polaris.hub.client.PolarisHubClient.list_benchmarks`.
    """
    return _frame(
        client,
        "benchmark",
        owner=owner,
        contains=contains,
        page_size=page_size,
    )


def competitions_frame(
    client: ListingClient, *, owner: str | None = None, contains: str | None = None, page_size: int = 100
) -> pd.DataFrame:
    """Every competition you can see, as a DataFrame with :data:`COLUMNS` (``size_bytes`` is ``None``).

    Raises: as :meth:`~polaris.hub.client.PolarisHubClient.list_competitions`.
    """
    return _frame(
        client,
        "competition",
        owner=owner,
        contains=contains,
        page_size=page_size,
    )


def models_frame(
    client: ListingClient, *, owner: str | None = None, contains: str | None = None, page_size: int = 100
) -> pd.DataFrame:
    """Every model you can see, as a DataFrame with :data:`COLUMNS` (empty on a Hub without models).

    Raises: as :meth:`~polaris.hub.client.PolarisHubClient.list_datasets`.
    """
    return _frame(
        client,
        "model",
        owner=owner,
        contains=contains,
        page_size=page_size,
    )

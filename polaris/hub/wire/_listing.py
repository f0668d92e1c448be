"""Shared listing helpers: summaries from list items, and the V2-then-V1 paging rule (0.11-0.13 facts, section 3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from polaris.errors import PolarisHubError
from polaris.hub.wire.core import ArtifactKind, ArtifactSummary, Page, owner_slug
from polaris.hub.wire.generations import Generations
from polaris.types import slugify

__all__ = ["merge_v2_then_v1", "merged_listing", "summary_from_item"]


def summary_from_item(kind: ArtifactKind, item: Any, *, version: int) -> ArtifactSummary:
    """An :class:`ArtifactSummary` from a generated list item (or its dict)."""
    data: Mapping[str, Any] = item.to_dict() if hasattr(item, "to_dict") else dict(item)
    owner = owner_slug(data.get("owner"))
    name = str(data.get("name") or "")
    artifact_id = str(data.get("artifactId") or (f"{owner}/{slugify(name)}" if owner and name else name))
    if not owner and "/" in artifact_id:
        owner = artifact_id.split("/", 1)[0]
    raw_version = data.get("artifactVersion")
    extra = {k: data[k] for k in ("access", "slug", "urn", "parentArtifactId") if k in data}
    return ArtifactSummary(
        kind=kind,
        owner=owner,
        name=name or artifact_id.split("/")[-1],
        artifact_id=artifact_id,
        version=version,
        artifact_version=int(raw_version) if isinstance(raw_version, int) else None,
        description=str(data.get("description") or ""),
        extra=extra,
    )


def merge_v2_then_v1(
    v2: Callable[[int, int], Page] | None,
    v1: Callable[[int, int], Page],
    *,
    limit: int,
    offset: int,
) -> Page:
    """One page of the merged listing: V2 artifacts first, then V1, as polaris-lib 0.11+ pages them.

    ``GET v2`` with ``limit``/``offset``; if that page is full, done. Otherwise ``GET v1`` with
    ``limit - len(v2 page)`` and ``offset = max(0, offset - v2 total)``. ``v2=None``: the Hub has no V2 listing.
    The merged total is the sum of both totals when both were asked (``None`` after a full V2 page).
    """
    if v2 is None:
        return v1(limit, offset)
    first = v2(limit, offset)
    total_v2 = first.total if first.total is not None else offset + len(first.items)
    if len(first.items) >= limit:
        # polaris-lib stops here; so do we (the merged total is then unknown: V1 was not asked)
        return Page(items=list(first.items), total=None, limit=limit, offset=offset, entries=first.entries)
    second = v1(limit - len(first.items), max(0, offset - total_v2))
    total = None if first.total is None or second.total is None else first.total + second.total
    return Page(
        items=[*first.items, *second.items],
        total=total,
        limit=limit,
        offset=offset,
        entries=(*first.entries, *second.entries),
    )


def merged_listing(
    generations: Generations,
    key: str,
    v2: Callable[[int, int], Page],
    v1: Callable[[int, int], Page],
    *,
    limit: int,
    offset: int,
) -> Page:
    """:func:`merge_v2_then_v1`; a 404 on the V2 listing marks it absent for this client (V1 only from then on)."""
    if generations.is_absent(f"{key}@v2"):
        return merge_v2_then_v1(None, v1, limit=limit, offset=offset)
    try:
        return merge_v2_then_v1(v2, v1, limit=limit, offset=offset)
    except PolarisHubError as exc:
        if exc.status_code != 404 or not (exc.url or "").rstrip("/").endswith(("/v2/dataset", "/v2/benchmark")):
            raise
        generations.mark_absent(f"{key}@v2")
        return merge_v2_then_v1(None, v1, limit=limit, offset=offset)

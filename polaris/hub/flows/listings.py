"""Listings of every kind: one page (``list_*``), every page (``iter_*``, the one pager, bounded by
:data:`MAX_PAGES`), and a page as a DataFrame (``list_*(as_frame=True)``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from polaris.hub.wire.core import ArtifactKind, Page

if TYPE_CHECKING:
    import pandas as pd

    from polaris.hub.wire import Wire

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGES", "Listings"]

logger = logging.getLogger(__name__)

#: Items per request when walking a whole listing.
DEFAULT_PAGE_SIZE = 100
#: Upper bound of pages one iteration walks (a guard against a Hub that never stops paging).
MAX_PAGES = 10_000


class Listings:
    """The listings of one client.

    Args:
        wire: the client's wire. check_open: raises when the client was closed (called before every page).
    """

    def __init__(self, wire: Wire, check_open: Callable[[], None]) -> None:
        self.wire = wire
        self._check_open = check_open

    def lister(self, kind: ArtifactKind) -> Callable[..., Page]:
        """The wire's listing of ``kind`` (V2 then V1 for datasets and benchmarks).

        Raises:
            ValueError: unknown kind.
        """
        listers: dict[str, Callable[..., Page]] = {
            "dataset": self.wire.datasets.list_datasets,
            "benchmark": self.wire.benchmarks.list_benchmarks,
            "competition": self.wire.competitions.list_competitions,
            "model": self.wire.models.list_models,
        }
        if kind not in listers:
            raise ValueError(f"unknown artifact kind {kind!r}; expected one of {', '.join(listers)}")
        return listers[kind]

    def page(self, kind: ArtifactKind, limit: int, offset: int) -> Page:
        """One page of ``kind``."""
        self._check_open()
        return self.lister(kind)(limit=limit, offset=offset)

    def pages(self, kind: ArtifactKind, page_size: int) -> Iterator[Page]:
        """Every page of ``kind``, until the Hub's total or a short page (at most :data:`MAX_PAGES`).

        Raises:
            ValueError: ``page_size`` below 1, or an unknown kind (when the first page is asked).
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        fetch = self.lister(kind)
        offset = 0
        for _ in range(MAX_PAGES):
            self._check_open()
            page = fetch(limit=page_size, offset=offset)
            yield page
            offset += len(page.items)
            if not page.items or (page.total is not None and offset >= page.total):
                return
            if page.total is None and len(page.items) < page_size:
                return
        logger.warning("Stopped listing %ss after %d pages", kind, MAX_PAGES)

    def frame(self, kind: ArtifactKind, page: Page) -> pd.DataFrame:
        """One page as a DataFrame (:mod:`polaris.hub.listing`); V1 datasets get their ``size_bytes``."""
        from polaris.hub import listing

        size = listing.v1_dataset_size(self.wire.datasets.get_dataset_v1) if kind == "dataset" else None
        return listing.page_frame(page, size=size)

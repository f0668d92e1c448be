"""The listings of ``PolarisHubClient``: one page (``list_*``) or every page (``iter_*``) of the artifacts you can see.

A mixin so that ``client.py`` stays thin; every public method here is part of the documented client surface.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Literal, cast, overload

if TYPE_CHECKING:
    import pandas as pd

    from polaris.hub._wire import Page, Wire
    from polaris.hub.client import PolarisHubClient

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGES", "HubListingsMixin"]

logger = logging.getLogger("polaris.hub.client")

#: Items per request when walking a whole listing.
DEFAULT_PAGE_SIZE = 100
#: Upper bound of pages one iteration walks (a guard against a Hub that never stops paging).
MAX_PAGES = 10_000


class HubListingsMixin:
    """``list_datasets``/``list_benchmarks``/``list_competitions`` and their ``iter_*`` (mixed into the client)."""

    if TYPE_CHECKING:

        @property
        def _wire(self) -> Wire: ...

        def _check_open(self) -> None: ...

    @overload
    def list_datasets(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: Literal[False] = False
    ) -> list[str]: ...

    @overload
    def list_datasets(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: Literal[True]
    ) -> pd.DataFrame: ...

    def list_datasets(
        self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, *, as_frame: bool = False
    ) -> list[str] | pd.DataFrame:
        """``owner/name`` of the datasets you can see, one page: V2 first, then V1 (as the Hub pages them).

        Without a login only public datasets are listed (no token is sent). Details: ``list_artifacts("dataset")``.
        ``as_frame=True`` returns the page as a pandas DataFrame instead (owner, name, kind, version, access,
        size_bytes; see :mod:`polaris.hub.listing`).

        Raises:
            PolarisUnauthorizedError: not logged in. HubConnectionError: no answer.
            PolarisHubError (subclass per status): the Hub refused or failed.
        """
        self._check_open()
        page = self._wire.list_datasets(limit=limit, offset=offset)
        if as_frame:
            from polaris.hub.listing import datasets_page_frame

            return datasets_page_frame(cast("PolarisHubClient", self), page)
        return page.items

    def list_benchmarks(self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0) -> list[str]:
        """``owner/name`` of the benchmarks you can see, one page: V2 first, then V1.

        Raises: as :meth:`list_datasets`.
        """
        self._check_open()
        return self._wire.list_benchmarks(limit=limit, offset=offset).items

    def list_competitions(self, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0) -> list[str]:
        """``owner/name`` of the competitions you can see, one page.

        Raises: as :meth:`list_datasets`.
        """
        self._check_open()
        return self._wire.list_competitions(limit=limit, offset=offset).items

    def _walk(self, fetch: Callable[..., Page], page_size: int) -> Iterator[str]:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        offset = 0
        for _ in range(MAX_PAGES):
            self._check_open()
            page = fetch(limit=page_size, offset=offset)
            yield from page.items
            offset += len(page.items)
            if not page.items or (page.total is not None and offset >= page.total):
                return
            if page.total is None and len(page.items) < page_size:
                return
        logger.warning("Stopped listing after %d pages", MAX_PAGES)

    def iter_datasets(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every dataset you can see (``owner/name``; V2, then V1), page after page.

        Raises: as :meth:`list_datasets`.
        """
        return self._walk(self._wire.list_datasets, page_size)

    def iter_benchmarks(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every benchmark you can see (``owner/name``), page after page.

        Raises: as :meth:`list_datasets`.
        """
        return self._walk(self._wire.list_benchmarks, page_size)

    def iter_competitions(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every competition you can see (``owner/name``), page after page.

        Raises: as :meth:`list_datasets`.
        """
        return self._walk(self._wire.list_competitions, page_size)

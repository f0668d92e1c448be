"""One object per artifact kind, composed (never inherited), sharing one :class:`~.context.FlowContext`.

=================================  ==========================================================================
module                             holds
=================================  ==========================================================================
:mod:`~.context`                   the shared context, the cache-entry layout, the ONE offline fallback
:mod:`~.datasets`                  datasets V1/V2: download into the verified cache, lazy (remote) opening
:mod:`~.dataset_upload`            dataset uploads (resume with ``if_exists="skip"``, new versions)
:mod:`~.benchmarks`                benchmarks V1/V2 (Roaring index sets) and their results
:mod:`~.competitions`              competitions (0.11+ Zarr and 0.10) and their scoring
:mod:`~.models`                    models (metadata only)
:mod:`~.listings`                  list/iter of every kind: the one pager, frames
=================================  ==========================================================================

They import nothing above them (never the client); :class:`Flows` builds them for one client. Nothing is imported
with the package (``polaris.hub.client`` imports :mod:`~.listings` at import time and stays cheap).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polaris.hub.flows.context import FlowContext

__all__ = ["Flows"]


class Flows:
    """The artifact objects of one client, built on one context."""

    def __init__(self, ctx: FlowContext) -> None:
        from polaris.hub.flows.benchmarks import Benchmarks
        from polaris.hub.flows.competitions import Competitions
        from polaris.hub.flows.dataset_upload import DatasetUpload
        from polaris.hub.flows.datasets import Datasets
        from polaris.hub.flows.models import Models

        self.context = ctx
        self.datasets = Datasets(ctx)
        self.dataset_upload = DatasetUpload(ctx)
        self.benchmarks = Benchmarks(ctx, self.datasets)
        self.competitions = Competitions(ctx, self.datasets)
        self.models = Models(ctx)

    def close(self) -> None:
        self.context.close()

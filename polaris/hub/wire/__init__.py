"""The wire layer: the only importer of the generated ``polaris_hub_api`` client.

One module per resource (:mod:`~polaris.hub.wire.datasets`, :mod:`~polaris.hub.wire.benchmarks`,
:mod:`~polaris.hub.wire.results`, :mod:`~polaris.hub.wire.competitions`, :mod:`~polaris.hub.wire.models`), the
identity provider's user info (:mod:`~polaris.hub.wire.identity`), the one error funnel
(:mod:`~polaris.hub.wire.errors`) and the generation negotiation (:mod:`~polaris.hub.wire.generations`: newest
endpoint first, 404 -> older, remembered per client).

One naming rule for every resource: ``get_<kind>`` tries every generation and returns the
:class:`~polaris.hub.wire.generations.Generation` that answered with the answer; ``*_v1`` / ``*_v2`` name one
endpoint. :class:`Wire` holds one object per resource, all sending through one
:class:`~polaris.hub.wire.core.WireCore`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from polaris.hub.wire.benchmarks import BenchmarksWire
from polaris.hub.wire.competitions import CompetitionsWire
from polaris.hub.wire.core import ANONYMOUS_HINT, ArtifactSummary, Page, WireCore, owner_and_name, owner_slug
from polaris.hub.wire.datasets import DatasetsWire
from polaris.hub.wire.errors import (
    MAX_HUB_MESSAGE_CHARS,
    connection_error,
    error_for_response,
    error_for_status,
    hub_message,
    raise_for_response,
)
from polaris.hub.wire.generations import Generation, Generations
from polaris.hub.wire.identity import fetch_user_info
from polaris.hub.wire.models import ModelsWire
from polaris.hub.wire.results import ResultsWire

if TYPE_CHECKING:
    from polaris_hub_api import AuthenticatedClient

__all__ = [
    "ANONYMOUS_HINT",
    "MAX_HUB_MESSAGE_CHARS",
    "ArtifactSummary",
    "Generation",
    "Generations",
    "Page",
    "Wire",
    "WireCore",
    "connection_error",
    "error_for_response",
    "error_for_status",
    "fetch_user_info",
    "hub_message",
    "owner_and_name",
    "owner_slug",
    "raise_for_response",
]


class Wire:
    """Every Hub operation one client uses: ``wire.datasets``, ``wire.benchmarks``, ``wire.results``,
    ``wire.competitions``, ``wire.models`` (e.g. ``wire.datasets.get_dataset(owner, name)``).

    Args: see :class:`~polaris.hub.wire.core.WireCore` (they build the one core every resource sends through).
    """

    def __init__(
        self,
        http: httpx.Client,
        api_url: str,
        *,
        anonymous_http: httpx.Client | None = None,
        has_token: Callable[[], bool] | None = None,
    ) -> None:
        self.core = WireCore(http, api_url, anonymous_http=anonymous_http, has_token=has_token)
        self.datasets = DatasetsWire(self.core)
        self.benchmarks = BenchmarksWire(self.core)
        self.results = ResultsWire(self.core)
        self.competitions = CompetitionsWire(self.core)
        self.models = ModelsWire(self.core)

    @property
    def api(self) -> AuthenticatedClient:
        """The generated ``AuthenticatedClient`` sharing the client's connection."""
        return self.core.api

    @property
    def anonymous(self) -> bool:
        """True when reads go out without a token (see :attr:`WireCore.anonymous`)."""
        return self.core.anonymous

    @property
    def generations(self) -> Generations:
        """What this client learned about the Hub's endpoints."""
        return self.core.generations

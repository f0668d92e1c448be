"""The wire layer: the only importer of the generated ``polaris_hub_api`` client.

One module per resource (:mod:`~polaris.hub.wire.datasets`, :mod:`~polaris.hub.wire.benchmarks`,
:mod:`~polaris.hub.wire.results`, :mod:`~polaris.hub.wire.competitions`, :mod:`~polaris.hub.wire.models`), the
identity provider's user info (:mod:`~polaris.hub.wire.identity`), the one error funnel
(:mod:`~polaris.hub.wire.errors`) and the generation negotiation (:mod:`~polaris.hub.wire.generations`: newest
endpoint first, 404 -> older, remembered per client). :class:`Wire` combines the resources for one client.
"""

from __future__ import annotations

from polaris.hub.wire.benchmarks import BenchmarksWire
from polaris.hub.wire.competitions import CompetitionsWire
from polaris.hub.wire.core import ANONYMOUS_HINT, ArtifactSummary, Page, WireCore, owner_slug
from polaris.hub.wire.errors import (
    MAX_HUB_MESSAGE_CHARS,
    connection_error,
    error_for_response,
    error_for_status,
    hub_message,
    raise_for_response,
)
from polaris.hub.wire.generations import Generations
from polaris.hub.wire.identity import fetch_user_info
from polaris.hub.wire.models import ModelsWire
from polaris.hub.wire.results import ResultsWire

__all__ = [
    "ANONYMOUS_HINT",
    "MAX_HUB_MESSAGE_CHARS",
    "ArtifactSummary",
    "Generations",
    "Page",
    "Wire",
    "WireCore",
    "connection_error",
    "error_for_response",
    "error_for_status",
    "fetch_user_info",
    "hub_message",
    "owner_slug",
    "raise_for_response",
]


class Wire(BenchmarksWire, ResultsWire, CompetitionsWire, ModelsWire):
    """Every Hub operation one client uses (datasets, benchmarks, results, competitions, models).

    Args: see :class:`~polaris.hub.wire.core.WireCore`.
    """

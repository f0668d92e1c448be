"""Compatibility module: the wire layer lives in :mod:`polaris.hub.wire` (one module per resource).

``from polaris.hub._wire import Wire, Page, error_for_status, ...`` keeps working.
"""

from __future__ import annotations

from polaris.hub.wire import (
    MAX_HUB_MESSAGE_CHARS,
    ArtifactSummary,
    Page,
    Wire,
    connection_error,
    error_for_response,
    error_for_status,
    fetch_user_info,
    hub_message,
    raise_for_response,
)

__all__ = [
    "MAX_HUB_MESSAGE_CHARS",
    "ArtifactSummary",
    "Page",
    "Wire",
    "connection_error",
    "error_for_response",
    "error_for_status",
    "fetch_user_info",
    "hub_message",
    "raise_for_response",
]

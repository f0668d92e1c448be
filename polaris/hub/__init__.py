"""Talking to the Polaris Hub: settings, login, the client.

Names are imported lazily so ``import polaris.hub`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polaris.hub.client import PolarisHubClient
    from polaris.hub.settings import PolarisHubSettings

__all__ = ["PolarisHubClient", "PolarisHubSettings"]


def __getattr__(name: str) -> Any:
    if name == "PolarisHubClient":
        from polaris.hub.client import PolarisHubClient

        return PolarisHubClient
    if name == "PolarisHubSettings":
        from polaris.hub.settings import PolarisHubSettings

        return PolarisHubSettings
    raise AttributeError(f"module 'polaris.hub' has no attribute {name!r}")

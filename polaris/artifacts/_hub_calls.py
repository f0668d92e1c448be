"""How the artifact methods users call (``dataset.upload_to_hub(...)``, ``competition.submit_predictions(...)``)
reach the Hub: through a :class:`~polaris.hub.client.PolarisHubClient` opened for the one call, as polaris-lib does.

Only the client's public methods are used. The client is imported when a method runs, never at import.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from polaris.types import HubOwner

__all__ = ["hub_client", "sort_upload_args"]

logger = logging.getLogger(__name__)

_ACCESS_VALUES = ("public", "private")


@contextlib.contextmanager
def hub_client(settings: Any = None, cache_auth_token: bool = True, **client_kwargs: Any) -> Iterator[Any]:
    """A client for one call: ``PolarisHubClient(settings=..., cache_auth_token=...)``, logged in when it holds no
    token (with ``POLARIS_USERNAME``/``POLARIS_PASSWORD`` that is the password grant, else the browser login), closed
    afterwards."""
    from polaris.hub.client import PolarisHubClient

    client = PolarisHubClient(settings=settings, cache_auth_token=cache_auth_token, **client_kwargs)
    try:
        if not client.is_logged_in:
            client.login()
        yield client
    finally:
        client.close()


def sort_upload_args(*values: Any) -> tuple[Any, str, str | HubOwner | None]:
    """``(settings, access, owner)`` from the positional/keyword values of an ``upload_to_hub`` call.

    polaris-lib changed the order of these parameters between 0.10 (``settings, cache_auth_token, access, owner``
    for benchmarks and results; ``access, owner`` for datasets) and 0.12 (``owner`` first, ``access`` dropped for
    datasets and benchmarks). Each value is recognised by what it is: a ``PolarisHubSettings`` is the settings,
    ``"public"``/``"private"`` the access, any other string or a ``HubOwner`` the owner.

    Raises:
        TypeError: a value of none of these kinds, or two values for the same slot.
    """
    from polaris.hub.settings import PolarisHubSettings

    settings: Any = None
    access: str | None = None
    owner: str | HubOwner | None = None
    for value in values:
        if value is None:
            continue
        if isinstance(value, PolarisHubSettings):
            slot, current = "settings", settings
            settings = value
        elif isinstance(value, str) and value in _ACCESS_VALUES:
            slot, current = "access", access
            access = value
        elif isinstance(value, (str, HubOwner)):
            slot, current = "owner", owner
            owner = value
        else:
            raise TypeError(
                f"upload_to_hub: unexpected argument {value!r}; pass owner='...', access='public'|'private' or "
                "settings=PolarisHubSettings(...) by keyword"
            )
        if current is not None and current != value:
            raise TypeError(f"upload_to_hub: two values given for {slot}: {current!r} and {value!r}")
    return settings, access or "private", owner

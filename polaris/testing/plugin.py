"""pytest plugin: fixtures that start a local Polaris Hub (registered as the ``polaris`` pytest11 entry point).

Installed with the package, so any test suite gets these fixtures without a ``conftest.py``:

``local_hub`` (session scope)
    A :class:`polaris.testing.LocalHub` started with ``--seed demo --enable-faults``. Attributes: ``url`` (the
    hub_url, trailing ``/``), ``api_url``, ``authorize_url``, ``token_fetch_url``, ``user_info_url``, ``client_id``,
    ``users`` (``{"demo-user": "demo-password", "other-user": "other-password"}``), ``s3_endpoint`` (the S3 gateway
    that checks storage tokens), ``s3_direct_endpoint`` (moto itself, any credentials: for tampering); methods
    ``env()`` (the ``POLARIS_*`` variables), ``settings(**overrides)`` (a ``PolarisHubSettings``),
    ``inject_fault(path, status=503, count=1, method="*", retry_after=None)`` and ``clear_faults()``.
    The demo content: organization ``polaris-demo`` (member ``demo-user``) owns the public dataset
    ``polaris-demo/freesolv`` (with benchmark ``polaris-demo/freesolv-hydration-free-energy``), the V2 dataset
    ``polaris-demo/freesolv-zarr`` and the competition ``polaris-demo/freesolv-challenge``.

``local_hub_factory`` (function scope)
    ``local_hub_factory(**options)`` starts another hub with :class:`LocalHub` options (``seed``, ``users``, ``orgs``,
    ``token_ttl``, ``data_dir``, ``enable_faults``, ``protocol``, ``extra_args``); every hub it started is stopped at
    teardown. ``protocol="0.10"`` serves only the endpoints polaris-lib 0.10 calls (the newer ones answer 404),
    ``protocol="0.13"`` only those 0.11-0.13 call.

``hub_client`` (function scope)
    A ``polaris.hub.client.PolarisHubClient`` logged in to ``local_hub`` as ``demo-user`` (password grant, tokens
    kept in memory only), closed at teardown.

Faults injected through ``local_hub`` are cleared after each test that used it.

Example::

    def test_lists_the_demo_dataset(hub_client):
        assert "polaris-demo/freesolv" in hub_client.list_datasets()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from polaris.testing import LocalHub

__all__ = ["hub_client", "local_hub", "local_hub_factory"]


@pytest.fixture(scope="session")
def _polaris_session_hub() -> Iterator[LocalHub]:
    with LocalHub(seed="demo", enable_faults=True) as hub:
        yield hub


@pytest.fixture
def local_hub(_polaris_session_hub: LocalHub) -> Iterator[LocalHub]:
    """The session's local Hub (seeded with demo content, faults enabled); faults are cleared after each test."""
    yield _polaris_session_hub
    if _polaris_session_hub.returncode is None:
        _polaris_session_hub.clear_faults()


@pytest.fixture
def local_hub_factory() -> Iterator[Callable[..., LocalHub]]:
    """Start extra local Hubs with custom options; all are stopped at teardown."""
    hubs: list[LocalHub] = []

    def start(**options: Any) -> LocalHub:
        hub = LocalHub(**options)
        hubs.append(hub)
        return hub.start()

    yield start
    for hub in reversed(hubs):
        hub.stop()


@pytest.fixture
def hub_client(local_hub: LocalHub) -> Iterator[Any]:
    """A ``PolarisHubClient`` logged in to ``local_hub`` as ``demo-user`` (password grant, no token cache)."""
    from polaris.hub.client import PolarisHubClient

    settings = local_hub.settings(username="demo-user", password=local_hub.users.get("demo-user", "demo-password"))
    client = PolarisHubClient(settings=settings, cache_auth_token=False)
    try:
        client.login()
        yield client
    finally:
        client.close()

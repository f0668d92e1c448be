"""The pytest plugin's fixtures as a user's test suite sees them: settings point at the local Hub, and
``hub_client`` is a logged-in PolarisHubClient that lists the demo artifacts."""

from __future__ import annotations

from typing import Any

from polaris.testing import LocalHub


def test_settings_point_at_the_local_hub(local_hub: LocalHub) -> None:
    settings = local_hub.settings(username="demo-user", password="demo-password")
    assert settings.hub_url == local_hub.url
    assert str(settings.api_url).rstrip("/") == local_hub.api_url
    assert settings.token_fetch_url == local_hub.token_fetch_url
    assert settings.client_id == local_hub.client_id


def test_hub_client_lists_demo_artifacts(hub_client: Any) -> None:
    assert "polaris-demo/freesolv" in hub_client.list_datasets()
    assert "polaris-demo/freesolv-hydration-free-energy" in hub_client.list_benchmarks()
    assert "polaris-demo/freesolv-challenge" in hub_client.list_competitions()


def test_factory_hub_is_independent(local_hub_factory: Any, local_hub: LocalHub) -> None:
    extra = local_hub_factory(users={"dave-user": "dave-password"})
    assert extra.url != local_hub.url
    assert extra.users == {"dave-user": "dave-password"}
    assert extra.returncode is None

"""Recorded exchanges of the 0.11-0.13 Hub API (V2 listings, V2 benchmark, models, 0.11 competition, anonymous
reads), replayed without a Hub. Re-record with ``POLARIS_RECORD_CASSETTES=1`` (see ``tests/test_cassettes.py``)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from test_cassettes import RECORD, REPLAY_HUB_URL, cassette

from polaris.artifacts import Model
from polaris.hub.client import PolarisHubClient
from polaris.hub.settings import PolarisHubSettings

DEMO_V2_BENCHMARK = "polaris-demo/freesolv-zarr-expt"
DEMO_MODEL = "polaris-demo/freesolv-linear-baseline"


@pytest.fixture()
def hub_settings(request: pytest.FixtureRequest) -> tuple[PolarisHubSettings, PolarisHubSettings]:
    """(anonymous settings, password-login settings)."""
    if RECORD:
        hub = request.getfixturevalue("local_hub")
        return hub.settings(), hub.settings(username="demo-user", password=hub.users["demo-user"])
    return (
        PolarisHubSettings(hub_url=REPLAY_HUB_URL),
        PolarisHubSettings(hub_url=REPLAY_HUB_URL, username="demo-user", password="demo-password"),
    )


def test_new_generation_exchanges(hub_settings: tuple[PolarisHubSettings, PolarisHubSettings]) -> None:
    anonymous_settings, login_settings = hub_settings
    with cassette("hub_generations.yaml") as tape:
        with PolarisHubClient(anonymous_settings, cache_auth_token=False) as anonymous:
            datasets = anonymous.list_artifacts("dataset")
            assert datasets[0].version == 2 and "polaris-demo/freesolv-zarr" in [d.artifact_id for d in datasets]
            assert "polaris-demo/freesolv" in [d.artifact_id for d in datasets if d.version == 1]
            benchmarks = anonymous.list_benchmarks()
            assert benchmarks[0] == DEMO_V2_BENCHMARK
            raw = anonymous._wire.benchmarks.get_benchmark_v2(*DEMO_V2_BENCHMARK.split("/"))
            assert set(raw["split"]) == {"training", "test"}
            assert all(str(url).startswith("http") for url in raw["split"].values())  # public: direct URLs
            assert set(raw["splitContent"]["test"]) >= {"datapoints", "md5Checksum"}
            assert anonymous.get_model(DEMO_MODEL).artifact_id == DEMO_MODEL
            assert DEMO_MODEL in anonymous.list_models()
            raw_comp = anonymous._wire.competitions.get_competition_v1("polaris-demo", "freesolv-zarr-challenge")
            assert raw_comp["startTime"] and raw_comp["endTime"]
        with PolarisHubClient(login_settings, cache_auth_token=False) as client:
            client.login()
            answer = client.upload_model(Model(name="cassette-model", owner="demo-user", description="recorded"))
            assert answer["slug"] == "cassette-model"
            assert client.get_model("demo-user/cassette-model").description == "recorded"
        if not RECORD:
            assert tape.all_played, "replay must use every recorded exchange"
        paths = [f"{r.method} {urlsplit(r.uri).path}" for r in tape.requests]
        assert paths[:2] == ["GET /api/v2/dataset", "GET /api/v1/dataset"], paths
        assert "PUT /api/v2/model/demo-user/cassette-model" in paths
        anonymous_calls = [r for r in tape.requests if urlsplit(r.uri).path != "/api/auth/token"][:7]
        assert all("authorization" not in {k.lower() for k in r.headers} for r in anonymous_calls)

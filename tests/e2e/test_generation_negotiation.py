"""Which generation answers (``polaris.hub.wire.generations``) against Hubs of one generation: one extra request
once, then the generation that answered is asked first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from artifact_helpers import (  # tests/ is on sys.path (conftest)
    DEMO_V2_BENCHMARK,
    DEMO_ZARR_COMPETITION,
    Requests,
    hub_client,
)

from polaris.artifacts import BenchmarkV2Specification, CompetitionSpecification, ZarrCompetitionSpecification

pytestmark = pytest.mark.timeout(300)


def test_a_0_10_hub_costs_one_extra_request_once(local_hub_factory: Callable[..., Any]) -> None:
    hub = local_hub_factory(seed="demo", protocol="0.10")
    with hub_client(hub) as client:
        requests = Requests(client)
        assert "polaris-demo/freesolv" in client.list_datasets()
        assert requests.paths() == ["GET /api/v2/dataset", "GET /api/v1/dataset"]
        requests.clear()
        client.list_datasets()
        assert requests.paths() == ["GET /api/v1/dataset"]
        requests.clear()
        client.list_benchmarks()
        client.list_benchmarks()
        assert requests.paths() == ["GET /api/v2/benchmark", "GET /api/v1/benchmark", "GET /api/v1/benchmark"]

        requests.clear()
        first = client.get_competition("polaris-demo/freesolv-challenge")
        assert isinstance(first, CompetitionSpecification)
        comp_paths = [p for p in requests.paths() if "/competition/" in p and "/dataset/" not in p]
        assert comp_paths == [
            "GET /api/v1/competition/polaris-demo/freesolv-challenge",
            "GET /api/v2/competition/polaris-demo/freesolv-challenge",
        ]
        requests.clear()
        client.get_competition("polaris-demo/freesolv-challenge")
        comp_paths = [p for p in requests.paths() if "/competition/" in p and "/dataset/" not in p]
        assert comp_paths == ["GET /api/v2/competition/polaris-demo/freesolv-challenge"]
        assert client.list_models() == []


def test_a_new_generation_hub_is_used_first_time_after_one_fallback(local_hub_factory: Callable[..., Any]) -> None:
    hub = local_hub_factory(seed="demo", protocol="0.13")
    with hub_client(hub) as client:
        requests = Requests(client)
        bench = client.get_benchmark(DEMO_V2_BENCHMARK)
        assert isinstance(bench, BenchmarkV2Specification)
        b_paths = [p for p in requests.paths() if "/benchmark/" in p]
        assert b_paths == [f"GET /api/v1/benchmark/{DEMO_V2_BENCHMARK}", f"GET /api/v2/benchmark/{DEMO_V2_BENCHMARK}"]
        requests.clear()
        client.get_benchmark(DEMO_V2_BENCHMARK)
        assert [p for p in requests.paths() if "/benchmark/" in p] == [f"GET /api/v2/benchmark/{DEMO_V2_BENCHMARK}"]
        requests.clear()
        competition = client.get_competition(DEMO_ZARR_COMPETITION)
        assert isinstance(competition, ZarrCompetitionSpecification)
        assert [p for p in requests.paths() if "/competition/" in p] == [
            f"GET /api/v1/competition/{DEMO_ZARR_COMPETITION}"
        ]
        requests.clear()
        assert client.list_competitions() == [] and client.list_competitions() == []  # no listing on 0.11+ Hubs
        assert requests.paths() == ["GET /api/v2/competition"]

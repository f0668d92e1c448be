"""The top-level loaders ``polaris.load_dataset`` / ``load_benchmark`` / ``load_competition``."""

from __future__ import annotations

from typing import Any

import pytest
from artifact_helpers import DEMO_BENCHMARK, DEMO_DATASET  # tests/ is on sys.path (conftest)

from polaris.artifacts import DatasetV1

pytestmark = pytest.mark.timeout(300)


def test_top_level_loaders(local_hub: Any) -> None:
    import polaris

    settings = {"hub_url": local_hub.url, "username": "demo-user", "password": local_hub.users["demo-user"]}
    dataset = polaris.load_dataset(DEMO_DATASET, **settings)
    assert isinstance(dataset, DatasetV1) and dataset.n_rows == 642
    bench = polaris.load_benchmark(DEMO_BENCHMARK, **settings)
    assert bench.dataset is not None and bench.target_cols
    competition = polaris.load_competition("polaris-demo/freesolv-challenge", **settings)
    assert competition.name == "freesolv-challenge"

"""Reads without a login: public artifacts without any token (direct URLs), private ones refused with a hint."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from artifact_helpers import (  # tests/ is on sys.path (conftest)
    DEMO_MODEL,
    DEMO_V1_BENCHMARK,
    DEMO_V2_BENCHMARK,
    Requests,
    hub_client,
    unique,
    v1_dataset,
)

from polaris.artifacts import BenchmarkSpecification, BenchmarkV2Specification
from polaris.errors import ArtifactNotFoundError
from polaris.hub.client import PolarisHubClient

pytestmark = pytest.mark.timeout(300)


def test_anonymous_reads_of_public_artifacts_send_no_token(local_hub: Any) -> None:
    with hub_client(local_hub, user=None) as anonymous:
        requests = Requests(anonymous)
        assert anonymous.is_anonymous
        assert DEMO_V2_BENCHMARK in anonymous.list_benchmarks()
        assert "polaris-demo/freesolv-zarr" in anonymous.list_datasets()
        bench = anonymous.get_benchmark(DEMO_V2_BENCHMARK)
        assert isinstance(bench, BenchmarkV2Specification)
        train, test = bench.get_train_test_split()
        slope, intercept = np.polyfit(np.asarray(train.X, dtype=float), np.asarray(train.y, dtype=float), 1)
        results = bench.evaluate(slope * np.asarray(test.X, dtype=float) + intercept)
        assert results.scores()
        v1 = anonymous.get_benchmark(DEMO_V1_BENCHMARK)
        assert isinstance(v1, BenchmarkSpecification)
        assert anonymous.get_model(DEMO_MODEL).name
        assert requests.seen and not any(auth for _, _, auth in requests.seen), requests.seen
        assert not anonymous.is_logged_in


def test_private_artifacts_are_refused_without_a_login(client: PolarisHubClient, local_hub: Any) -> None:
    name = unique("private")
    client.upload_dataset(v1_dataset(name), access="private")
    assert client.get_dataset("demo-user", name).n_rows == 6
    with hub_client(local_hub, user=None) as anonymous:
        assert f"demo-user/{name}" not in anonymous.list_datasets(limit=1000)
        with pytest.raises(ArtifactNotFoundError) as err:
            anonymous.get_dataset("demo-user", name)
    assert "log in" in err.value.hint

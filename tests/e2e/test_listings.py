"""Listings against the local Hub: owner/name strings, limit/offset, and walking every page."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from artifact_helpers import DEMO_V1_BENCHMARK, DEMO_V2_BENCHMARK, full_listing, hub_client, v1_dataset

from polaris.errors import InvalidRequestError
from polaris.hub.client import PolarisHubClient
from polaris.testing import LocalHub

N_EXTRA = 5
# The Hub lists a dataset once its stored table matches tableContent; these stand-in bytes are stored directly.
TABLE_BYTES = b"stand-in table of a listing test"


def _dataset_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "owner": "demo-user",
        "description": "listing test",
        "tags": [],
        "access": "private",
        "license": "CC-BY-4.0",
        "tableContent": {
            "size": len(TABLE_BYTES),
            "fileType": "parquet",
            "md5Sum": hashlib.md5(TABLE_BYTES).hexdigest(),
        },
        "md5Sum": "1" * 32,
    }


@pytest.fixture(scope="module")
def paged_hub() -> Iterator[Any]:
    """A Hub of its own (so other tests see the shared one untouched) with extra private datasets."""
    with LocalHub(seed="demo", expose_direct_s3=True) as hub:  # objects are put through moto directly
        _add_datasets(hub)
        yield hub


def _add_datasets(hub: Any) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=hub.s3_direct_endpoint,
        aws_access_key_id="t",
        aws_secret_access_key="t",
        region_name="us-east-1",
    )
    settings = hub.settings(username="demo-user", password=hub.users["demo-user"])
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        client.login()
        for i in range(N_EXTRA):
            answer = client.put(f"/v1/dataset/demo-user/listing-{i:03d}", json=_dataset_body(f"listing-{i:03d}"))
            assert answer.status_code in (200, 201), answer.text
            s3.put_object(
                Bucket="polaris-hub", Key=f"dataset/demo-user/listing-{i:03d}/table.parquet", Body=TABLE_BYTES
            )


def test_demo_content_is_listed(hub_client: PolarisHubClient) -> None:
    datasets = hub_client.list_datasets()
    assert "polaris-demo/freesolv" in datasets
    assert all(item.count("/") == 1 for item in datasets)
    assert "polaris-demo/freesolv-hydration-free-energy" in hub_client.list_benchmarks()
    assert "polaris-demo/freesolv-challenge" in hub_client.list_competitions()


def test_limit_and_offset(paged_hub: Any) -> None:
    settings = paged_hub.settings(username="demo-user", password=paged_hub.users["demo-user"])
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        everything = client.list_datasets(limit=100)
        mine = [d for d in everything if d.startswith("demo-user/listing-")]
        assert sorted(mine) == [f"demo-user/listing-{i:03d}" for i in range(N_EXTRA)]
        assert len(everything) == len(set(everything))
        first = client.list_datasets(limit=2)
        second = client.list_datasets(limit=2, offset=2)
        assert len(first) == 2 and len(second) == 2
        assert first == everything[:2] and second == everything[2:4]
        assert client.list_datasets(limit=2, offset=len(everything)) == []


def test_iterators_walk_every_page(paged_hub: Any) -> None:
    settings = paged_hub.settings(username="demo-user", password=paged_hub.users["demo-user"])
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        everything = client.list_datasets(limit=100)
        assert len(everything) > 2 * 2
        assert list(client.iter_datasets(page_size=2)) == everything
        assert list(client.iter_benchmarks(page_size=1)) == client.list_benchmarks()
        assert list(client.iter_competitions(page_size=1)) == client.list_competitions()
        with pytest.raises(ValueError):
            next(client.iter_datasets(page_size=0))


def test_another_user_does_not_see_private_datasets(paged_hub: Any) -> None:
    settings = paged_hub.settings(username="other-user", password=paged_hub.users["other-user"])
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        client.login()
        datasets = client.list_datasets()
    assert "polaris-demo/freesolv" in datasets
    assert not [d for d in datasets if d.startswith("demo-user/listing-")]


def test_invalid_paging_is_an_invalid_request(hub_client: PolarisHubClient) -> None:
    with pytest.raises(InvalidRequestError) as info:
        hub_client.list_datasets(limit=-1)
    assert info.value.status_code in (400, 422)
    assert info.value.hub_message


def test_listings_mix_v2_and_v1_across_page_boundaries(local_hub_factory: Callable[..., Any]) -> None:
    hub = local_hub_factory(seed="demo")
    with hub_client(hub) as client:
        for i in range(2):
            client.upload_dataset(v1_dataset(f"v1-extra-{i}"))
        v2 = full_listing(client._wire.datasets.list_datasets_v2)
        v1 = full_listing(client._wire.datasets.list_datasets_v1)
        assert v2 and len(v1) >= 3
        full = v2 + v1
        assert client.list_datasets(limit=1000) == full
        n = len(full)
        for limit in range(1, n + 2):
            for offset in range(0, n + 2):
                assert client.list_datasets(limit=limit, offset=offset) == full[offset : offset + limit], (
                    limit,
                    offset,
                )
        assert list(client.iter_datasets(page_size=1)) == full
        assert list(client.iter_datasets(page_size=len(v2))) == full
        summaries = client.list_artifacts("dataset", limit=1000)
        assert [s.artifact_id for s in summaries] == full
        assert [s.version for s in summaries] == [2] * len(v2) + [1] * len(v1)

        benchmarks = client.list_benchmarks(limit=1000)
        assert benchmarks.index(DEMO_V2_BENCHMARK) < benchmarks.index(DEMO_V1_BENCHMARK)
        for limit in (1, 2):
            for offset in range(len(benchmarks) + 1):
                assert client.list_benchmarks(limit=limit, offset=offset) == benchmarks[offset : offset + limit]

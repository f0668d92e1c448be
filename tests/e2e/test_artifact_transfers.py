"""Getting and uploading artifacts through PolarisHubClient against a real local Hub (HTTP + S3)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
import zarr

from polaris import checksum
from polaris.artifacts import BenchmarkSpecification, DatasetV1, DatasetV2
from polaris.artifacts.dataset import ColumnAnnotation
from polaris.errors import (
    ArtifactExistsError,
    ArtifactNotFoundError,
    InvalidArtifactError,
    LicenseRequiredError,
    PolarisChecksumError,
    PolarisCreateArtifactError,
)
from polaris.hub.client import PolarisHubClient

pytestmark = pytest.mark.timeout(180)

BUCKET = "polaris-hub"
DEMO_DATASET = "polaris-demo/freesolv"
DEMO_BENCHMARK = "polaris-demo/freesolv-hydration-free-energy"


def _client(hub: Any, user: str = "demo-user") -> PolarisHubClient:
    client = PolarisHubClient(hub.settings(username=user, password=hub.users[user]), cache_auth_token=False)
    client.show_progress = False
    client.login()
    return client


@pytest.fixture
def client(local_hub: Any) -> Iterator[PolarisHubClient]:
    with _client(local_hub) as c:
        yield c


class _CountingTokens:
    """Counts storage-token requests (each download of data needs one)."""

    def __init__(self, client: PolarisHubClient) -> None:
        self.calls: list[tuple[str, str]] = []
        auth = client._authenticator
        original = auth.storage_token

        def counted(*, resource: str, scope: str) -> dict[str, Any]:
            self.calls.append((resource, scope))
            return original(resource=resource, scope=scope)

        auth.storage_token = counted  # type: ignore[method-assign]


def _s3(hub: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=hub.s3_direct_endpoint,  # moto itself: tests tamper with objects behind the token gateway
        aws_access_key_id="x",
        aws_secret_access_key="x",
        region_name="us-east-1",
    )


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _zarr_dataset(tmp_path: Path, name: str, owner: str = "demo-user") -> DatasetV1:
    root = tmp_path / "images.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    images = np.arange(6 * 3 * 4, dtype="float64").reshape(6, 3, 4)
    group.create_array("img", shape=images.shape, chunks=(2, 3, 4), dtype="float64")[:] = images
    zarr.consolidate_metadata(str(root), zarr_format=2)
    table = pd.DataFrame({"img": [f"img#{i}" for i in range(6)], "y": np.linspace(0.0, 1.0, 6)})
    return DatasetV1(
        name=name,
        owner=owner,
        table=table,
        annotations={"img": ColumnAnnotation(is_pointer=True)},
        zarr_root_path=str(root),
        license="CC-BY-4.0",
        description="six tiny images",
    )


# ---------------------------------------------------------------------------------------------- downloads
def test_get_dataset_verifies_and_caches(client: PolarisHubClient, local_hub: Any, tmp_path: Path) -> None:
    counter = _CountingTokens(client)
    first = client.get_dataset(DEMO_DATASET, verify_checksum="verify")
    assert isinstance(first, DatasetV1)
    assert first.n_rows == 642 and "smiles" in first.columns
    # the Hub's checksum equals the one recomputed from the downloaded table
    assert checksum.table_md5(first.table) == first.md5sum
    assert counter.calls == [("urn:polaris:dataset:polaris-demo:freesolv", "read")]

    second = client.get_dataset("polaris-demo", "freesolv")
    assert counter.calls == [("urn:polaris:dataset:polaris-demo:freesolv", "read")], "second get transferred data"
    pd.testing.assert_frame_equal(first.table, second.table)

    # offline: the Hub is unreachable, the cached copy is used
    dead = local_hub.settings(hub_url="http://127.0.0.1:9/", username="demo-user", password="x")
    with PolarisHubClient(dead, cache_auth_token=False) as offline:
        offline._authenticator.tokens.hub_token = client._authenticator.tokens.hub_token
        offline.token = client.token
        third = offline.get_dataset(DEMO_DATASET)
    pd.testing.assert_frame_equal(first.table, third.table)


def test_get_benchmark_split_evaluate_and_checksum(client: PolarisHubClient) -> None:
    bench = client.get_benchmark(DEMO_BENCHMARK, verify_checksum="verify")
    assert isinstance(bench, BenchmarkSpecification)
    assert bench.md5sum == bench.compute_md5sum()
    train, test = bench.get_train_test_split()
    assert not isinstance(test, dict)
    assert len(train) + len(test) == 642 and len(test) > 0
    results = bench.evaluate(np.full(len(test), float(np.mean(train.y))))
    metrics = set(results.results["Metric"])
    assert bench.main_metric in metrics


def test_unknown_artifacts_are_not_found(client: PolarisHubClient) -> None:
    with pytest.raises(ArtifactNotFoundError):
        client.get_dataset("polaris-demo", "no-such-dataset")
    with pytest.raises(ArtifactNotFoundError):
        client.get_benchmark("polaris-demo/no-such-benchmark")


# ---------------------------------------------------------------------------------------------- uploads
def test_upload_v1_with_zarr_pointer_column_round_trips(
    client: PolarisHubClient, local_hub: Any, tmp_path: Path
) -> None:
    name = _unique("images")
    dataset = _zarr_dataset(tmp_path, name)
    expected_md5 = dataset.compute_md5sum()
    stored = client.upload_dataset(dataset, access="private")
    assert stored["md5Sum"] == expected_md5
    assert {e["path"] for e in stored["zarrContent"]} >= {".zgroup", "img/.zarray", "img/0.0.0"}

    back = client.get_dataset("demo-user", name, verify_checksum="verify")
    assert isinstance(back, DatasetV1)
    assert back.md5sum == expected_md5
    pd.testing.assert_frame_equal(back.table.reset_index(drop=True), dataset.table, check_dtype=False)
    np.testing.assert_array_equal(back.get_data(3, "img"), dataset.get_data(3, "img"))

    # someone else cannot see a private dataset
    with _client(local_hub, "other-user") as other, pytest.raises(ArtifactNotFoundError):
        other.get_dataset("demo-user", name)


def test_licence_is_required_before_anything_is_sent(client: PolarisHubClient, tmp_path: Path) -> None:
    name = _unique("nolicence")
    dataset = DatasetV1(name=name, owner="demo-user", table=pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(LicenseRequiredError):
        client.upload_dataset(dataset)
    with pytest.raises(ArtifactNotFoundError):
        client.get_dataset("demo-user", name)


def test_owner_argument_wins_and_foreign_owner_is_refused(client: PolarisHubClient, local_hub: Any) -> None:
    name = _unique("owned")
    dataset = DatasetV1(name=name, owner="other-user", table=pd.DataFrame({"x": [1.0]}), license="MIT")
    stored = client.upload_dataset(dataset, owner="polaris-demo")  # demo-user is a member of polaris-demo
    assert stored["owner"]["slug"] == "polaris-demo"
    with _client(local_hub, "other-user") as other, pytest.raises(PolarisCreateArtifactError) as err:
        other.upload_dataset(dataset, owner="polaris-demo")
    assert err.value.status_code == 403


def test_if_exists_raise_refuses_and_skip_completes(client: PolarisHubClient, tmp_path: Path) -> None:
    name = _unique("conflicts")
    dataset = _zarr_dataset(tmp_path, name)
    client.upload_dataset(dataset, if_exists="raise")
    before = client.get_dataset("demo-user", name)
    changed = _zarr_dataset(tmp_path / "other", name)
    changed.table["y"] = changed.table["y"] + 1.0
    with pytest.raises(ArtifactExistsError):
        client.upload_dataset(changed, if_exists="raise")
    # nothing was sent: the Hub still describes the first upload
    assert client.get_dataset("demo-user", name).md5sum == before.md5sum != changed.compute_md5sum()
    client.upload_dataset(dataset, if_exists="skip")  # everything is there: nothing to send, no error
    assert client.get_dataset("demo-user", name, verify_checksum="verify").md5sum == dataset.md5sum


def test_v2_dataset_round_trip_and_corrupted_chunk(
    client: PolarisHubClient, local_hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _unique("zarr-v2")
    root = tmp_path / "v2.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("x", shape=(10,), chunks=(5,), dtype="int64")[:] = np.arange(10)
    group.create_array("y", shape=(10,), chunks=(5,), dtype="float64")[:] = np.linspace(0, 1, 10)
    zarr.consolidate_metadata(str(root), zarr_format=2)
    dataset = DatasetV2(name=name, owner="demo-user", zarr_root_path=str(root), license="CC0-1.0")
    client.upload_dataset(dataset)

    back = client.get_dataset("demo-user", name)
    assert isinstance(back, DatasetV2)
    assert back.n_rows == 10 and sorted(back.columns) == ["x", "y"]
    assert back.get_data(7, "x") == 7

    # Corrupt one chunk behind the client's back: a fresh download must refuse it and cache nothing.
    key = f"dataset/demo-user/{name}/data.zarr/x/1"
    _s3(local_hub).put_object(Bucket=BUCKET, Key=key, Body=b"\x00" * 40)
    monkeypatch.setenv("POLARIS_CACHE_DIR", str(tmp_path / "fresh-cache"))
    with _client(local_hub) as fresh:
        fresh.show_progress = False
        with pytest.raises(PolarisChecksumError) as err:
            fresh.get_dataset("demo-user", name)
    assert err.value.chunk == "x/1"
    assert name in (err.value.artifact or "")
    cached = list((tmp_path / "fresh-cache").rglob("x/1"))
    assert cached == [], f"corrupt data left in the cache: {cached}"


def test_benchmark_upload_needs_its_dataset_on_the_hub(client: PolarisHubClient, tmp_path: Path) -> None:
    ds_name = _unique("bench-data")
    table = pd.DataFrame({"smiles": [f"C{'C' * i}O" for i in range(20)], "y": np.arange(20, dtype=float)})
    dataset = DatasetV1(name=ds_name, owner="demo-user", table=table, license="CC-BY-4.0")
    bench = BenchmarkSpecification.from_wire(
        {
            "name": _unique("bench"),
            "owner": "demo-user",
            "targetCols": ["y"],
            "inputCols": ["smiles"],
            "split": [list(range(15)), {"test": list(range(15, 20))}],
            "metrics": ["mean_absolute_error", "r2"],
            "mainMetric": "mean_absolute_error",
        },
        dataset=dataset,
    )
    with pytest.raises(InvalidArtifactError, match="not on the Hub"):
        client.upload_benchmark(bench)
    client.upload_dataset(dataset)
    stored = client.upload_benchmark(bench, access="public")
    assert stored["md5Sum"] == bench.compute_md5sum()

    back = client.get_benchmark("demo-user", bench.name or "", verify_checksum="verify")
    assert back.md5sum == bench.md5sum
    assert back.split[1]["test"] == list(range(15, 20))

    results = back.evaluate(np.arange(15, 20, dtype=float))
    uploaded = client.upload_results(results)
    assert uploaded.hub_url is not None and uploaded.hub_url.startswith(client.settings.hub_url.rstrip("/"))
    assert uploaded.owner is not None and uploaded.owner.slug == "demo-user"
    scores = uploaded.scores()[("test", "y")]
    assert scores["mean_absolute_error"] == 0.0 and scores["r2"] == 1.0


def test_competition_is_scored_on_the_hub(client: PolarisHubClient) -> None:
    competition = client.get_competition("polaris-demo/freesolv-challenge")
    train, test = competition.get_train_test_split()
    assert not isinstance(test, dict)
    with pytest.raises(Exception, match="hidden"):
        _ = test.y  # labels never reach the client
    served = competition.dataset.table  # type: ignore[union-attr]
    assert served[competition.target_cols[0]].iloc[competition.split[1]["test"]].isna().all()

    mean = float(np.mean(train.y))
    result = client.evaluate_competition(competition, [mean] * len(test))
    scores = result.scores()[("test", competition.target_cols[0])]
    assert set(scores) >= {competition.main_metric}
    assert np.isfinite(scores["mean_absolute_error"]) and scores["mean_absolute_error"] > 0
    with pytest.raises(ValueError):
        client.evaluate_competition(competition, [0.0] * (len(test) + 1))


def test_top_level_loaders(local_hub: Any) -> None:
    import polaris

    settings = {"hub_url": local_hub.url, "username": "demo-user", "password": local_hub.users["demo-user"]}
    dataset = polaris.load_dataset(DEMO_DATASET, **settings)
    assert isinstance(dataset, DatasetV1) and dataset.n_rows == 642
    bench = polaris.load_benchmark(DEMO_BENCHMARK, **settings)
    assert bench.dataset is not None and bench.target_cols
    competition = polaris.load_competition("polaris-demo/freesolv-challenge", **settings)
    assert competition.name == "freesolv-challenge"

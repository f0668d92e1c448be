"""Datasets (V1 table + Zarr pointers, V2 Zarr) through PolarisHubClient against a real local Hub (HTTP + S3):
verified downloads into the cache, uploads (licence, owner, if_exists, resume), versions, corrupted chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import zarr
from artifact_helpers import (  # tests/ is on sys.path (conftest)
    BUCKET,
    DEMO_DATASET,
    CountingTokens,
    hub_client,
    s3_client,
    unique,
    v1_dataset,
    v2_benchmark,
    v2_dataset,
    zarr_dataset,
)

from polaris import checksum_rows
from polaris.artifacts import BenchmarkV2Specification, DatasetV1, DatasetV2
from polaris.errors import (
    ArtifactExistsError,
    ArtifactNotFoundError,
    LicenseRequiredError,
    PolarisChecksumError,
    PolarisCreateArtifactError,
)
from polaris.hub.client import PolarisHubClient

pytestmark = pytest.mark.timeout(300)


def test_get_dataset_verifies_and_caches(client: PolarisHubClient, local_hub: Any, tmp_path: Path) -> None:
    counter = CountingTokens(client)
    first = client.get_dataset(DEMO_DATASET, verify_checksum="verify")
    assert isinstance(first, DatasetV1)
    assert first.n_rows == 642 and "smiles" in first.columns
    # the Hub's checksum equals the one recomputed from the downloaded table
    assert checksum_rows.table_md5(first.table) == first.md5sum
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


def test_unknown_artifacts_are_not_found(client: PolarisHubClient) -> None:
    with pytest.raises(ArtifactNotFoundError):
        client.get_dataset("polaris-demo", "no-such-dataset")
    with pytest.raises(ArtifactNotFoundError):
        client.get_benchmark("polaris-demo/no-such-benchmark")


def test_upload_v1_with_zarr_pointer_column_round_trips(
    client: PolarisHubClient, local_hub: Any, tmp_path: Path
) -> None:
    name = unique("images")
    dataset = zarr_dataset(tmp_path, name)
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
    with hub_client(local_hub, "other-user") as other, pytest.raises(ArtifactNotFoundError):
        other.get_dataset("demo-user", name)


def test_licence_is_required_before_anything_is_sent(client: PolarisHubClient, tmp_path: Path) -> None:
    name = unique("nolicence")
    dataset = DatasetV1(name=name, owner="demo-user", table=pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(LicenseRequiredError):
        client.upload_dataset(dataset)
    with pytest.raises(ArtifactNotFoundError):
        client.get_dataset("demo-user", name)


def test_owner_argument_wins_and_foreign_owner_is_refused(client: PolarisHubClient, local_hub: Any) -> None:
    name = unique("owned")
    dataset = DatasetV1(name=name, owner="other-user", table=pd.DataFrame({"x": [1.0]}), license="MIT")
    stored = client.upload_dataset(dataset, owner="polaris-demo")  # demo-user is a member of polaris-demo
    assert stored["owner"]["slug"] == "polaris-demo"
    with hub_client(local_hub, "other-user") as other, pytest.raises(PolarisCreateArtifactError) as err:
        other.upload_dataset(dataset, owner="polaris-demo")
    assert err.value.status_code == 403


def test_if_exists_raise_refuses_and_skip_completes(client: PolarisHubClient, tmp_path: Path) -> None:
    name = unique("conflicts")
    dataset = zarr_dataset(tmp_path, name)
    client.upload_dataset(dataset, if_exists="raise")
    before = client.get_dataset("demo-user", name)
    changed = zarr_dataset(tmp_path / "other", name)
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
    name = unique("zarr-v2")
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
    s3_client(local_hub).put_object(Bucket=BUCKET, Key=key, Body=b"\x00" * 40)
    monkeypatch.setenv("POLARIS_CACHE_DIR", str(tmp_path / "fresh-cache"))
    with hub_client(local_hub) as fresh:
        fresh.show_progress = False
        with pytest.raises(PolarisChecksumError) as err:
            fresh.get_dataset("demo-user", name)
    assert err.value.chunk == "x/1"
    assert name in (err.value.artifact or "")
    cached = list((tmp_path / "fresh-cache").rglob("x/1"))
    assert cached == [], f"corrupt data left in the cache: {cached}"


def test_versioned_dataset_and_benchmark(client: PolarisHubClient, tmp_path: Path) -> None:
    name = unique("versioned")
    first = v1_dataset(name, n=6)
    client.upload_dataset(first)
    second = v1_dataset(name, n=8)
    second.artifact_changelog = "two more rows"
    answer = client.upload_dataset(second, parent_artifact_id=f"demo-user/{name}")
    new_slug = answer["slug"]
    assert new_slug != name
    old, new = client.get_dataset("demo-user", name), client.get_dataset("demo-user", new_slug)
    assert isinstance(old, DatasetV1) and isinstance(new, DatasetV1)
    assert old.n_rows == 6 and new.n_rows == 8  # the parent is unchanged, the version has the new table
    assert new.artifact_version == 2 and new.artifact_changelog == "two more rows"
    assert new.parent_artifact_id == f"demo-user/{name}" and old.artifact_version == 1

    ds_name, b_name = unique("v2-data"), unique("v2-bench")
    dataset = v2_dataset(tmp_path, ds_name)
    client.upload_dataset(dataset)
    client.upload_benchmark(v2_benchmark(dataset, b_name, range(30), range(30, 40)))
    bench2 = v2_benchmark(dataset, b_name, range(10), range(10, 40))
    bench2.artifact_changelog = "bigger test set"
    b_answer = client.upload_benchmark(bench2, parent_artifact_id=f"demo-user/{b_name}")
    assert b_answer["slug"] != b_name
    v1 = client.get_benchmark("demo-user", b_name)
    v2 = client.get_benchmark("demo-user", b_answer["slug"])
    assert isinstance(v1, BenchmarkV2Specification) and isinstance(v2, BenchmarkV2Specification)
    assert len(v1.split.test) == 10 and len(v2.split.test) == 30
    assert v2.artifact_version == 2

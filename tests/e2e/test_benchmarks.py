"""Benchmarks (V1, and V2 with Roaring index sets) and their results, against a real local Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from artifact_helpers import (  # tests/ is on sys.path (conftest)
    BUCKET,
    DEMO_BENCHMARK,
    hub_client,
    s3_client,
    unique,
    v2_benchmark,
    v2_dataset,
)

from polaris.artifacts import BenchmarkSpecification, BenchmarkV2Specification, DatasetV1, Model
from polaris.errors import InvalidArtifactError, PolarisChecksumError
from polaris.hub.client import PolarisHubClient

pytestmark = pytest.mark.timeout(300)


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


def test_benchmark_upload_needs_its_dataset_on_the_hub(client: PolarisHubClient, tmp_path: Path) -> None:
    ds_name = unique("bench-data")
    table = pd.DataFrame({"smiles": [f"C{'C' * i}O" for i in range(20)], "y": np.arange(20, dtype=float)})
    dataset = DatasetV1(name=ds_name, owner="demo-user", table=table, license="CC-BY-4.0")
    bench = BenchmarkSpecification.from_wire(
        {
            "name": unique("bench"),
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


def test_v2_benchmark_round_trip_evaluate_and_results_with_a_model(client: PolarisHubClient, tmp_path: Path) -> None:
    ds_name, b_name = unique("v2-data"), unique("v2-bench")
    dataset = v2_dataset(tmp_path, ds_name)
    client.upload_dataset(dataset)
    local = v2_benchmark(dataset, b_name, range(30), range(30, 40))
    answer = client.upload_benchmark(local)
    assert answer["slug"] == b_name

    back = client.get_benchmark("demo-user", b_name)
    assert isinstance(back, BenchmarkV2Specification)
    assert back.split.training.indices == list(range(30)) and back.split.test.indices == list(range(30, 40))
    assert back.split.test.md5_checksum == local.split.test.md5_checksum
    assert back.dataset_artifact_id == f"demo-user/{ds_name}"
    train, test = back.get_train_test_split()
    assert len(train) == 30 and len(test) == 10
    np.testing.assert_allclose(train.y, 3 * np.linspace(0, 1, 40)[:30] - 1)
    slope, intercept = np.polyfit(train.X, train.y, 1)
    y_pred = slope * test.X + intercept
    results = back.evaluate(y_pred)
    assert results.scores()[("test", "y")]["mean_absolute_error"] == pytest.approx(0.0, abs=1e-9)
    assert results.scores() == local.evaluate(y_pred).scores()

    model = Model(name=unique("linear"), owner="demo-user", description="least squares", code_url="https://x.org/c")
    client.upload_model(model)
    results.name = unique("res")
    uploaded = client.upload_results(results, model=model)
    assert uploaded.model_artifact_id == model.artifact_id
    assert uploaded.hub_url is not None

    # served from the cache the second time: no storage token, no object read
    again = client.get_benchmark(f"demo-user/{b_name}")
    assert isinstance(again, BenchmarkV2Specification) and again.split.test == back.split.test


def test_corrupted_roaring_file_is_refused_and_nothing_is_cached(
    client: PolarisHubClient, local_hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds_name, b_name = unique("v2-data"), unique("v2-bench")
    dataset = v2_dataset(tmp_path, ds_name)
    client.upload_dataset(dataset)
    client.upload_benchmark(v2_benchmark(dataset, b_name, range(20), range(20, 40)))
    assert isinstance(client.get_benchmark("demo-user", b_name), BenchmarkV2Specification)  # published and read

    # Corrupt the test set behind the client's back (the Hub checked it when it was published).
    s3 = s3_client(local_hub)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"benchmark/demo-user/{b_name}/")
    keys = sorted(o["Key"] for o in listed.get("Contents", []))
    assert [k.rsplit("/", 1)[1] for k in keys] == ["test.roaring", "training.roaring"], keys
    test_key = next(k for k in keys if k.endswith("test.roaring"))
    obj = s3.get_object(Bucket=BUCKET, Key=test_key)
    assert obj["ContentType"] == "application/vnd.roaringbitmap"
    assert obj["Metadata"]["md5sum"] == v2_benchmark(dataset, b_name, range(20), range(20, 40)).split.test.md5_checksum
    from polaris.artifacts import IndexSet

    s3.put_object(Bucket=BUCKET, Key=test_key, Body=IndexSet.from_indices(range(21, 41)).serialize())

    cache = tmp_path / "fresh-cache"
    monkeypatch.setenv("POLARIS_CACHE_DIR", str(cache))
    with hub_client(local_hub) as fresh, pytest.raises(PolarisChecksumError) as err:
        fresh.get_benchmark("demo-user", b_name)
    assert b_name in (err.value.artifact or "")
    assert not list(cache.rglob("*.roaring")), "a corrupt index set reached the cache"
    assert not (cache / "benchmark").exists() or not any((cache / "benchmark").rglob("metadata.json"))

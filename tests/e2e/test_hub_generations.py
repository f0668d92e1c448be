"""One client for every Hub generation, against real local Hubs (HTTP + S3): V2 benchmarks with Roaring index sets,
models, versions, 0.11+ competitions, V1+V2 listings, anonymous reads and the 404 fallbacks (remembered per client)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
import zarr

from polaris.artifacts import (
    BenchmarkSpecification,
    BenchmarkV2Specification,
    CompetitionResults,
    CompetitionSpecification,
    DatasetV1,
    DatasetV2,
    Model,
    SplitV2,
    ZarrCompetitionSpecification,
)
from polaris.errors import ArtifactNotFoundError, PolarisChecksumError
from polaris.hub.client import PolarisHubClient

pytestmark = pytest.mark.timeout(300)

BUCKET = "polaris-hub"
DEMO_V1_BENCHMARK = "polaris-demo/freesolv-hydration-free-energy"
DEMO_V2_BENCHMARK = "polaris-demo/freesolv-zarr-expt"
DEMO_ZARR_COMPETITION = "polaris-demo/freesolv-zarr-challenge"
DEMO_MODEL = "polaris-demo/freesolv-linear-baseline"


def _client(hub: Any, user: str | None = "demo-user") -> PolarisHubClient:
    if user is None:
        client = PolarisHubClient(hub.settings(), cache_auth_token=False)
    else:
        client = PolarisHubClient(hub.settings(username=user, password=hub.users[user]), cache_auth_token=False)
        client.login()
    client.show_progress = False
    return client


@pytest.fixture
def client(local_hub: Any) -> Iterator[PolarisHubClient]:
    with _client(local_hub) as c:
        yield c


class _Requests:
    """Every REST request a client sends (its authenticated and its anonymous connection), and their headers."""

    def __init__(self, client: PolarisHubClient) -> None:
        self.seen: list[tuple[str, str, bool]] = []
        _ = client._wire  # builds both connections
        for http in (client, client._anonymous_http):
            assert http is not None
            hooks = http.event_hooks
            hooks.setdefault("request", []).append(self._record)
            http.event_hooks = hooks

    def _record(self, request: Any) -> None:
        self.seen.append((request.method, request.url.path, "authorization" in request.headers))

    def paths(self) -> list[str]:
        return [f"{m} {p}" for m, p, _ in self.seen]

    def clear(self) -> None:
        self.seen.clear()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _s3(hub: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=hub.s3_direct_endpoint,  # moto itself: tests tamper with objects behind the token gateway
        aws_access_key_id="x",
        aws_secret_access_key="x",
        region_name="us-east-1",
    )


def _v2_dataset(tmp_path: Path, name: str, n: int = 40) -> DatasetV2:
    root = tmp_path / f"{name}.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    x = np.linspace(0.0, 1.0, n)
    group.create_array("x", shape=(n,), chunks=(16,), dtype="float64")[:] = x
    group.create_array("y", shape=(n,), chunks=(16,), dtype="float64")[:] = 3 * x - 1
    zarr.consolidate_metadata(str(root), zarr_format=2)
    return DatasetV2(name=name, owner="demo-user", zarr_root_path=str(root), license="CC0-1.0")


def _v2_benchmark(dataset: DatasetV2, name: str, train: range, test: range) -> BenchmarkV2Specification:
    return BenchmarkV2Specification(
        name=name,
        owner="demo-user",
        dataset=dataset,
        target_cols=["y"],
        input_cols=["x"],
        split=SplitV2(training=train, test=test),
        metrics=["mean_absolute_error", "r2"],
        main_metric="mean_absolute_error",
        description="a tiny V2 benchmark",
    )


def _v1_dataset(name: str, n: int = 6) -> DatasetV1:
    table = pd.DataFrame({"smiles": [f"C{'C' * i}O" for i in range(n)], "y": np.arange(n, dtype=float)})
    return DatasetV1(name=name, owner="demo-user", table=table, license="CC-BY-4.0")


# ---------------------------------------------------------------------------------------------- V2 benchmarks
def test_v2_benchmark_round_trip_evaluate_and_results_with_a_model(client: PolarisHubClient, tmp_path: Path) -> None:
    ds_name, b_name = _unique("v2-data"), _unique("v2-bench")
    dataset = _v2_dataset(tmp_path, ds_name)
    client.upload_dataset(dataset)
    local = _v2_benchmark(dataset, b_name, range(30), range(30, 40))
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

    model = Model(name=_unique("linear"), owner="demo-user", description="least squares", code_url="https://x.org/c")
    client.upload_model(model)
    results.name = _unique("res")
    uploaded = client.upload_results(results, model=model)
    assert uploaded.model_artifact_id == model.artifact_id
    assert uploaded.hub_url is not None

    # served from the cache the second time: no storage token, no object read
    again = client.get_benchmark(f"demo-user/{b_name}")
    assert isinstance(again, BenchmarkV2Specification) and again.split.test == back.split.test


def test_corrupted_roaring_file_is_refused_and_nothing_is_cached(
    client: PolarisHubClient, local_hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds_name, b_name = _unique("v2-data"), _unique("v2-bench")
    dataset = _v2_dataset(tmp_path, ds_name)
    client.upload_dataset(dataset)
    client.upload_benchmark(_v2_benchmark(dataset, b_name, range(20), range(20, 40)))
    assert isinstance(client.get_benchmark("demo-user", b_name), BenchmarkV2Specification)  # published and read

    # Corrupt the test set behind the client's back (the Hub checked it when it was published).
    s3 = _s3(local_hub)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"benchmark/demo-user/{b_name}/")
    keys = sorted(o["Key"] for o in listed.get("Contents", []))
    assert [k.rsplit("/", 1)[1] for k in keys] == ["test.roaring", "training.roaring"], keys
    test_key = next(k for k in keys if k.endswith("test.roaring"))
    obj = s3.get_object(Bucket=BUCKET, Key=test_key)
    assert obj["ContentType"] == "application/vnd.roaringbitmap"
    assert obj["Metadata"]["md5sum"] == _v2_benchmark(dataset, b_name, range(20), range(20, 40)).split.test.md5_checksum
    from polaris.artifacts import IndexSet

    s3.put_object(Bucket=BUCKET, Key=test_key, Body=IndexSet.from_indices(range(21, 41)).serialize())

    cache = tmp_path / "fresh-cache"
    monkeypatch.setenv("POLARIS_CACHE_DIR", str(cache))
    with _client(local_hub) as fresh, pytest.raises(PolarisChecksumError) as err:
        fresh.get_benchmark("demo-user", b_name)
    assert b_name in (err.value.artifact or "")
    assert not list(cache.rglob("*.roaring")), "a corrupt index set reached the cache"
    assert not (cache / "benchmark").exists() or not any((cache / "benchmark").rglob("metadata.json"))


# ---------------------------------------------------------------------------------------------- versions, models
def test_versioned_dataset_and_benchmark(client: PolarisHubClient, tmp_path: Path) -> None:
    name = _unique("versioned")
    first = _v1_dataset(name, n=6)
    client.upload_dataset(first)
    second = _v1_dataset(name, n=8)
    second.artifact_changelog = "two more rows"
    answer = client.upload_dataset(second, parent_artifact_id=f"demo-user/{name}")
    new_slug = answer["slug"]
    assert new_slug != name
    old, new = client.get_dataset("demo-user", name), client.get_dataset("demo-user", new_slug)
    assert isinstance(old, DatasetV1) and isinstance(new, DatasetV1)
    assert old.n_rows == 6 and new.n_rows == 8  # the parent is unchanged, the version has the new table
    assert new.artifact_version == 2 and new.artifact_changelog == "two more rows"
    assert new.parent_artifact_id == f"demo-user/{name}" and old.artifact_version == 1

    ds_name, b_name = _unique("v2-data"), _unique("v2-bench")
    dataset = _v2_dataset(tmp_path, ds_name)
    client.upload_dataset(dataset)
    client.upload_benchmark(_v2_benchmark(dataset, b_name, range(30), range(30, 40)))
    bench2 = _v2_benchmark(dataset, b_name, range(10), range(10, 40))
    bench2.artifact_changelog = "bigger test set"
    b_answer = client.upload_benchmark(bench2, parent_artifact_id=f"demo-user/{b_name}")
    assert b_answer["slug"] != b_name
    v1 = client.get_benchmark("demo-user", b_name)
    v2 = client.get_benchmark("demo-user", b_answer["slug"])
    assert isinstance(v1, BenchmarkV2Specification) and isinstance(v2, BenchmarkV2Specification)
    assert len(v1.split.test) == 10 and len(v2.split.test) == 30
    assert v2.artifact_version == 2


def test_model_upload_get_list_and_version(client: PolarisHubClient) -> None:
    name = _unique("model")
    model = Model(name=name, owner="demo-user", description="v1", tags=["demo"], report_url="https://x.org/r")
    client.upload_model(model, access="public")
    back = client.get_model(f"demo-user/{name}")
    assert back.description == "v1" and back.report_url == "https://x.org/r" and back.artifact_version == 1
    assert f"demo-user/{name}" in list(client.iter_models(page_size=2))
    summaries = {s.artifact_id: s for s in client.iter_artifacts("model")}
    assert summaries[f"demo-user/{name}"].kind == "model"
    assert DEMO_MODEL in summaries
    newer = Model(name=name, owner="demo-user", description="v2", artifact_changelog="better")
    answer = client.upload_model(newer, parent_artifact_id=f"demo-user/{name}")
    assert answer.get("artifactVersion") == 2
    with pytest.raises(ArtifactNotFoundError):
        client.get_model("demo-user", _unique("no-such-model"))


# ---------------------------------------------------------------------------------------------- competitions
def test_zarr_competition_predictions_are_scored(client: PolarisHubClient) -> None:
    competition = client.get_competition(DEMO_ZARR_COMPETITION)
    assert isinstance(competition, ZarrCompetitionSpecification)
    train, test = competition.get_train_test_split()
    assert not isinstance(test, dict)
    slope, intercept = np.polyfit(np.asarray(train.X, dtype=float), np.asarray(train.y, dtype=float), 1)
    preds = slope * np.asarray(test.X, dtype=float) + intercept
    scored = client.evaluate_competition(competition, preds, name=_unique("preds"), owner="demo-user")
    assert isinstance(scored, CompetitionResults)
    assert scored.competition_artifact_id == DEMO_ZARR_COMPETITION
    scores = scored.scores()
    assert scores and all(np.isfinite(v) for per in scores.values() for v in per.values())


def test_both_competition_generations_through_one_client(client: PolarisHubClient) -> None:
    old = client.get_competition("polaris-demo/freesolv-challenge")
    new = client.get_competition(DEMO_ZARR_COMPETITION)
    assert isinstance(old, CompetitionSpecification) and not isinstance(old, ZarrCompetitionSpecification)
    assert isinstance(new, ZarrCompetitionSpecification)
    _, test = old.get_train_test_split()
    assert not isinstance(test, dict)
    result = client.evaluate_competition(old, np.zeros(len(test)))
    assert isinstance(result, CompetitionResults) and result.scores()


# ---------------------------------------------------------------------------------------------- listings
def _full(fetch: Callable[..., Any]) -> list[str]:
    items: list[str] = fetch(limit=1000, offset=0).items
    return items


def test_listings_mix_v2_and_v1_across_page_boundaries(local_hub_factory: Callable[..., Any]) -> None:
    hub = local_hub_factory(seed="demo")
    with _client(hub) as client:
        for i in range(2):
            client.upload_dataset(_v1_dataset(f"v1-extra-{i}"))
        v2 = _full(client._wire.datasets.list_datasets_v2)
        v1 = _full(client._wire.datasets.list_datasets_v1)
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


# ---------------------------------------------------------------------------------------------- anonymous reads
def test_anonymous_reads_of_public_artifacts_send_no_token(local_hub: Any) -> None:
    with _client(local_hub, user=None) as anonymous:
        requests = _Requests(anonymous)
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
    name = _unique("private")
    client.upload_dataset(_v1_dataset(name), access="private")
    assert client.get_dataset("demo-user", name).n_rows == 6
    with _client(local_hub, user=None) as anonymous:
        assert f"demo-user/{name}" not in anonymous.list_datasets(limit=1000)
        with pytest.raises(ArtifactNotFoundError) as err:
            anonymous.get_dataset("demo-user", name)
    assert "log in" in err.value.hint


# ---------------------------------------------------------------------------------------------- fallbacks
def test_a_0_10_hub_costs_one_extra_request_once(local_hub_factory: Callable[..., Any]) -> None:
    hub = local_hub_factory(seed="demo", protocol="0.10")
    with _client(hub) as client:
        requests = _Requests(client)
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
    with _client(hub) as client:
        requests = _Requests(client)
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

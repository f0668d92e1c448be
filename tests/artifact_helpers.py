"""Shared helpers of the artifact tests in ``tests/e2e`` (one test module per artifact kind): clients of a local
Hub, request and storage-token counters, small datasets and benchmarks to upload."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import zarr

from polaris.artifacts import BenchmarkV2Specification, DatasetV1, DatasetV2, SplitV2
from polaris.artifacts.dataset import ColumnAnnotation
from polaris.hub.client import PolarisHubClient

BUCKET = "polaris-hub"
DEMO_DATASET = "polaris-demo/freesolv"
DEMO_BENCHMARK = "polaris-demo/freesolv-hydration-free-energy"
DEMO_V1_BENCHMARK = DEMO_BENCHMARK
DEMO_V2_BENCHMARK = "polaris-demo/freesolv-zarr-expt"
DEMO_ZARR_COMPETITION = "polaris-demo/freesolv-zarr-challenge"
DEMO_MODEL = "polaris-demo/freesolv-linear-baseline"


def hub_client(hub: Any, user: str | None = "demo-user") -> PolarisHubClient:
    if user is None:
        client = PolarisHubClient(hub.settings(), cache_auth_token=False)
    else:
        client = PolarisHubClient(hub.settings(username=user, password=hub.users[user]), cache_auth_token=False)
        client.login()
    client.show_progress = False
    return client


class Requests:
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


class CountingTokens:
    """Counts storage-token requests (each download of data needs one)."""

    def __init__(self, client: PolarisHubClient) -> None:
        self.calls: list[tuple[str, str]] = []
        auth = client._authenticator
        original = auth.storage_token

        def counted(*, resource: str, scope: str) -> dict[str, Any]:
            self.calls.append((resource, scope))
            return original(resource=resource, scope=scope)

        auth.storage_token = counted  # type: ignore[method-assign]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def s3_client(hub: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=hub.s3_direct_endpoint,  # moto itself: tests tamper with objects behind the token gateway
        aws_access_key_id="x",
        aws_secret_access_key="x",
        region_name="us-east-1",
    )


def v2_dataset(tmp_path: Path, name: str, n: int = 40) -> DatasetV2:
    root = tmp_path / f"{name}.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    x = np.linspace(0.0, 1.0, n)
    group.create_array("x", shape=(n,), chunks=(16,), dtype="float64")[:] = x
    group.create_array("y", shape=(n,), chunks=(16,), dtype="float64")[:] = 3 * x - 1
    zarr.consolidate_metadata(str(root), zarr_format=2)
    return DatasetV2(name=name, owner="demo-user", zarr_root_path=str(root), license="CC0-1.0")


def v2_benchmark(dataset: DatasetV2, name: str, train: range, test: range) -> BenchmarkV2Specification:
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


def v1_dataset(name: str, n: int = 6) -> DatasetV1:
    table = pd.DataFrame({"smiles": [f"C{'C' * i}O" for i in range(n)], "y": np.arange(n, dtype=float)})
    return DatasetV1(name=name, owner="demo-user", table=table, license="CC-BY-4.0")


def zarr_dataset(tmp_path: Path, name: str, owner: str = "demo-user") -> DatasetV1:
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


def full_listing(fetch: Callable[..., Any]) -> list[str]:
    items: list[str] = fetch(limit=1000, offset=0).items
    return items

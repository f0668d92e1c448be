"""Data integrity against a real local Hub: the cache serves only verified bytes, damaged copies are never served."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import zarr

from polaris.artifacts import DatasetV1, DatasetV2
from polaris.errors import HubConnectionError
from polaris.hub.client import PolarisHubClient

pytestmark = pytest.mark.timeout(180)


def _client(hub: Any, user: str = "demo-user") -> PolarisHubClient:
    client = PolarisHubClient(hub.settings(username=user, password=hub.users[user]), cache_auth_token=False)
    client.show_progress = False
    client.login()
    return client


@pytest.fixture
def client(local_hub: Any) -> Iterator[PolarisHubClient]:
    with _client(local_hub) as c:
        yield c


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _v2_archive(root: Path) -> Path:
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("x", shape=(10,), chunks=(5,), dtype="int64")[:] = np.arange(10)
    zarr.consolidate_metadata(str(root), zarr_format=2)
    return root


# ---------------------------------------------------------------------------------------------- the cache
def test_tamper_after_ignore_is_not_served_to_verify(client: PolarisHubClient, tmp_path: Path) -> None:
    name = _unique("ignored")
    client.upload_dataset(
        DatasetV2(name=name, owner="demo-user", zarr_root_path=str(_v2_archive(tmp_path / "a.zarr")), license="CC0-1.0")
    )
    ignored = client.get_dataset("demo-user", name, verify_checksum="ignore")
    assert isinstance(ignored, DatasetV2)
    chunk = Path(str(ignored.zarr_root_path)) / "x" / "1"
    chunk.write_bytes(b"\x00" * chunk.stat().st_size)  # tampered after the unverified read
    verified = client.get_dataset("demo-user", name, verify_checksum="verify")
    assert isinstance(verified, DatasetV2)
    assert Path(str(verified.zarr_root_path)) != Path(str(ignored.zarr_root_path))
    assert verified.get_data(7, "x") == 7


def test_corrupted_cache_entries_are_refetched_or_refused(
    client: PolarisHubClient, local_hub: Any, tmp_path: Path
) -> None:
    name = _unique("cached")
    table = pd.DataFrame({"x": np.arange(50, dtype="float64"), "s": [f"m{i}" for i in range(50)]})
    client.upload_dataset(DatasetV1(name=name, owner="demo-user", table=table, license="MIT"))
    first = client.get_dataset("demo-user", name, verify_checksum="verify")
    assert isinstance(first, DatasetV1)
    cache = client._artifacts.cache
    (info,) = [i for i in cache.entries() if i.artifact_id == f"demo-user/{name}"]
    parquet = info.path / "table.parquet"
    with parquet.open("r+b") as fh:
        fh.truncate(parquet.stat().st_size // 2)

    # offline: the damaged copy is refused (a typed error, never a raw ArrowInvalid)
    dead = local_hub.settings(hub_url="http://127.0.0.1:9/", username="demo-user", password="x")
    with PolarisHubClient(dead, cache_auth_token=False) as offline:
        offline._authenticator.tokens.hub_token = client._authenticator.tokens.hub_token
        offline.token = client.token
        with pytest.raises(HubConnectionError):
            offline.get_dataset("demo-user", name)

    # online: fetched again and served intact
    again = client.get_dataset("demo-user", name, verify_checksum="verify")
    assert isinstance(again, DatasetV1)
    pd.testing.assert_frame_equal(again.table.reset_index(drop=True), table, check_dtype=False)
    assert cache.verify(info.key).ok

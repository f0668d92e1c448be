"""Lazy remote access: Hub Zarr read chunk by chunk from storage, verified, optionally cached (real local Hub)."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
import zarr

from polaris.artifacts import DatasetV1, DatasetV2
from polaris.artifacts.dataset import ColumnAnnotation
from polaris.errors import InvalidArtifactError, PolarisChecksumError
from polaris.hub.client import PolarisHubClient

pytestmark = pytest.mark.timeout(180)

BUCKET = "polaris-hub"
ROWS, ROWS_PER_CHUNK = 200, 10  # 20 chunks per array


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


def _v2_archive(root: Path) -> dict[str, np.ndarray]:
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    data = {
        "x": np.arange(ROWS * 4, dtype="float64").reshape(ROWS, 4),
        "y": np.arange(ROWS, dtype="int64") * 3,
    }
    for key, values in data.items():
        group.create_array(key, shape=values.shape, chunks=(ROWS_PER_CHUNK, *values.shape[1:]), dtype=values.dtype)[
            :
        ] = values
    zarr.consolidate_metadata(str(root), zarr_format=2)
    return data


def _upload_v2(client: PolarisHubClient, tmp_path: Path) -> tuple[str, dict[str, np.ndarray]]:
    name = _unique("lazy-v2")
    root = tmp_path / "v2.zarr"
    data = _v2_archive(root)
    client.upload_dataset(DatasetV2(name=name, owner="demo-user", zarr_root_path=str(root), license="CC0-1.0"))
    return name, data


def _s3(hub: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=hub.s3_direct_endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        region_name="us-east-1",
    )


def _chunk_keys(keys: list[str]) -> list[str]:
    return sorted(k for k in keys if not k.rsplit("/", 1)[-1].startswith("."))


def test_ten_rows_fetch_only_their_chunks_and_second_read_is_local(client: PolarisHubClient, tmp_path: Path) -> None:
    name, data = _upload_v2(client, tmp_path)
    lazy = client.get_dataset("demo-user", name, lazy=True)
    assert isinstance(lazy, DatasetV2) and lazy.is_remote
    assert lazy.n_rows == ROWS and sorted(lazy.columns) == ["x", "y"]
    store = lazy._remote.store
    assert _chunk_keys(store.stats.keys) == [], "opening the dataset fetched data chunks"

    rows = np.asarray(lazy.zarr_root["x"][40:50])
    np.testing.assert_array_equal(rows, data["x"][40:50])
    assert _chunk_keys(store.stats.keys) == ["x/4.0"], store.stats.keys
    assert lazy.get_data(123, "y") == data["y"][123]
    assert _chunk_keys(store.stats.keys) == ["x/4.0", "y/12"]
    moved = store.stats.bytes
    assert moved < (data["x"].nbytes + data["y"].nbytes) / 4

    # a second lazy open of the same dataset reads those chunks from the cache, not from storage
    again = client.get_dataset("demo-user", name, lazy=True)
    np.testing.assert_array_equal(np.asarray(again.zarr_root["x"][40:50]), data["x"][40:50])
    assert _chunk_keys(again._remote.store.stats.keys) == []
    assert again._remote.store.stats.cache_hits >= 1

    # the whole archive straight into memory equals the original
    full = client.get_dataset("demo-user", name, lazy=True).load_to_memory()
    for key, values in data.items():
        np.testing.assert_array_equal(np.asarray(full.zarr_root[key][:]), values)


def test_v1_lazy_table_and_pointer_column(client: PolarisHubClient, tmp_path: Path) -> None:
    name = _unique("lazy-v1")
    root = tmp_path / "images.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    images = np.arange(12 * 3 * 4, dtype="float64").reshape(12, 3, 4)
    group.create_array("img", shape=images.shape, chunks=(2, 3, 4), dtype="float64")[:] = images
    zarr.consolidate_metadata(str(root), zarr_format=2)
    table = pd.DataFrame({"img": [f"img#{i}" for i in range(12)], "y": np.linspace(0.0, 1.0, 12)})
    dataset = DatasetV1(
        name=name,
        owner="demo-user",
        table=table,
        annotations={"img": ColumnAnnotation(is_pointer=True)},
        zarr_root_path=str(root),
        license="CC-BY-4.0",
    )
    client.upload_dataset(dataset)

    eager = client.get_dataset("demo-user", name)
    assert not eager.is_remote
    lazy = eager.open_remote()  # any Hub dataset can be reopened remotely
    assert isinstance(lazy, DatasetV1) and lazy.is_remote
    pd.testing.assert_frame_equal(lazy.table.reset_index(drop=True), table, check_dtype=False)
    np.testing.assert_array_equal(lazy.get_data(7, "img"), images[7])
    assert _chunk_keys(lazy._remote.store.stats.keys) == ["img/3.0.0"]

    local = DatasetV1(name="local", table=pd.DataFrame({"a": [1.0]}), license="MIT")
    with pytest.raises(InvalidArtifactError, match="not loaded from the Hub"):
        local.open_remote()


def test_tampered_chunk_is_refused_and_nothing_cached(
    client: PolarisHubClient, local_hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, data = _upload_v2(client, tmp_path)
    cache = tmp_path / "fresh-cache"
    monkeypatch.setenv("POLARIS_CACHE_DIR", str(cache))
    with _client(local_hub) as fresh:
        lazy = fresh.get_dataset("demo-user", name, lazy=True)
        # corrupted behind the Hub's back while the archive is open (the local Hub refuses to describe a dataset
        # whose stored objects differ from its manifest, so this is what a client can meet)
        _s3(local_hub).put_object(Bucket=BUCKET, Key=f"dataset/demo-user/{name}/data.zarr/y/3", Body=b"\x01" * 80)
        np.testing.assert_array_equal(np.asarray(lazy.zarr_root["y"][0:10]), data["y"][0:10])  # an intact chunk
        with pytest.raises(PolarisChecksumError) as err:
            lazy.zarr_root["y"][30:40]
    assert err.value.chunk == "y/3"
    assert name in (err.value.artifact or "")
    kept = {p.name: p.read_bytes() for p in (cache / "data" / "chunks").rglob("*") if p.is_file()}
    assert lazy._remote.store.manifest["y/0"] in kept, "the intact chunk was not kept"
    assert lazy._remote.store.manifest["y/3"] not in kept
    assert b"\x01" * 80 not in kept.values()
    assert all(hashlib.md5(body).hexdigest() == md5 for md5, body in kept.items()), "unverified data in the cache"


def test_load_to_memory_refuses_a_tampered_chunk_and_keeps_nothing(
    client: PolarisHubClient, local_hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, data = _upload_v2(client, tmp_path)
    cache = tmp_path / "fresh-cache"
    monkeypatch.setenv("POLARIS_CACHE_DIR", str(cache))
    with _client(local_hub) as fresh:
        intact = fresh.get_dataset("demo-user", name, lazy=True).load_to_memory()
        for key, values in data.items():  # straight into memory, verified while streaming: the original arrays
            np.testing.assert_array_equal(np.asarray(intact.zarr_root[key][:]), values)
        assert isinstance(intact.zarr_root.store, zarr.storage.MemoryStore)
        lazy = fresh.get_dataset("demo-user", name, lazy=True)
        _s3(local_hub).put_object(Bucket=BUCKET, Key=f"dataset/demo-user/{name}/data.zarr/x/7.0", Body=b"\x02" * 320)
        with pytest.raises(PolarisChecksumError) as err:
            lazy.load_to_memory()
    assert err.value.chunk == "x/7.0" and name in (err.value.artifact or "")
    assert err.value.expected == lazy._remote.store.manifest["x/7.0"]
    assert err.value.actual == hashlib.md5(b"\x02" * 320).hexdigest()
    assert not isinstance(lazy.zarr_root.store, zarr.storage.MemoryStore)  # the dataset was left as it was
    kept = {p.name for p in (cache / "data" / "chunks").rglob("*") if p.is_file()}
    manifest = lazy._remote.store.manifest
    assert kept, "the metadata zarr read to open the archive was not kept"
    assert not kept & {manifest[key] for key in _chunk_keys(list(manifest))}, "load_to_memory cached data chunks"
    assert err.value.actual not in kept


def test_storage_token_renewed_during_a_long_lazy_read(local_hub_factory: Any, tmp_path: Path) -> None:
    hub = local_hub_factory(token_ttl=2, seed="demo")
    with _client(hub) as client:
        name, data = _upload_v2(client, tmp_path)
        calls: list[str] = []
        original = client._authenticator.storage_token

        def counted(*, resource: str, scope: str) -> dict[str, Any]:
            calls.append(scope)
            return original(resource=resource, scope=scope)

        client._authenticator.storage_token = counted  # type: ignore[method-assign]
        lazy = client.get_dataset("demo-user", name, lazy=True, verify_checksum="verify")
        store = lazy._remote.store
        started = time.monotonic()
        for chunk in range(ROWS // ROWS_PER_CHUNK):  # one chunk at a time, for more than two token lifetimes
            start = chunk * ROWS_PER_CHUNK
            np.testing.assert_array_equal(
                np.asarray(lazy.zarr_root["y"][start : start + ROWS_PER_CHUNK]), data["y"][start : start + 10]
            )
            time.sleep(0.3)
        assert time.monotonic() - started > 5
        assert store.stats.requests >= ROWS // ROWS_PER_CHUNK
    assert all(scope == "read" for scope in calls)
    assert len(calls) >= 3, f"the storage token was not renewed during the read ({len(calls)} exchanges)"


def test_eager_downloads_record_the_digests_computed_while_streaming(
    client: PolarisHubClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import polaris.hub.cache as cache_module

    name_v2, data = _upload_v2(client, tmp_path)
    name_v1 = _unique("eager-v1")
    root = tmp_path / "v1.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("img", shape=(6, 4), chunks=(2, 4), dtype="float64")[:] = np.arange(24.0).reshape(6, 4)
    zarr.consolidate_metadata(str(root), zarr_format=2)
    client.upload_dataset(
        DatasetV1(
            name=name_v1,
            owner="demo-user",
            table=pd.DataFrame({"img": [f"img#{i}" for i in range(6)]}),
            annotations={"img": ColumnAnnotation(is_pointer=True)},
            zarr_root_path=str(root),
            license="CC-BY-4.0",
        )
    )
    hashed: list[str] = []
    real = cache_module._md5_file

    def counting(path: Path) -> str:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(cache_module, "_md5_file", counting)
    tables: list[str] = []
    read_parquet = pd.read_parquet

    def counting_tables(path: Any, *args: Any, **kwargs: Any) -> Any:
        tables.append(Path(path).name)
        return read_parquet(path, *args, **kwargs)

    v2 = client.get_dataset("demo-user", name_v2)
    monkeypatch.setattr(pd, "read_parquet", counting_tables)
    v1 = client.get_dataset("demo-user", name_v1)
    assert tables == ["table.parquet"]  # parsed once (to verify it), not again to hand it out
    # nothing that streamed in is read again: only the two small files written locally (the Hub's answer, the
    # generation that gave it) are hashed for the entry's manifest
    assert sorted(hashed) == ["generation", "generation", "metadata.json", "metadata.json"], hashed
    np.testing.assert_array_equal(np.asarray(v2.zarr_root["x"][:]), data["x"])
    np.testing.assert_array_equal(np.asarray(v1.get_data(5, "img")), np.arange(20.0, 24.0))
    cache = client.cache
    entries = [
        info for info in cache.entries() if info.key.artifact_id in (f"demo-user/{name_v1}", f"demo-user/{name_v2}")
    ]
    assert len(entries) == 2 and all(info.verified for info in entries)
    assert all(cache.verify(info.key).ok for info in entries)  # the recorded md5s are those of the files

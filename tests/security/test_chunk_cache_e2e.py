"""The lazy chunk cache against the real local Hub: a chunk damaged or replaced on disk is fetched again."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from polaris.artifacts import DatasetV2
from polaris.hub.client import PolarisHubClient
from polaris.hub.storage import chunk_cache

pytestmark = pytest.mark.timeout(180)

ROWS, ROWS_PER_CHUNK = 40, 10


def _client(hub: Any) -> PolarisHubClient:
    settings = hub.settings(username="demo-user", password=hub.users["demo-user"])
    client = PolarisHubClient(settings, cache_auth_token=False)
    client.show_progress = False
    client.login()
    return client


def test_damaged_and_planted_cached_chunks_are_fetched_again(
    local_hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("POLARIS_CACHE_DIR", str(cache))
    root = tmp_path / "v2.zarr"
    values = np.arange(ROWS, dtype="int64") * 7
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("y", shape=values.shape, chunks=(ROWS_PER_CHUNK,), dtype=values.dtype)[:] = values
    zarr.consolidate_metadata(str(root), zarr_format=2)
    name = f"chunk-cache-{uuid.uuid4().hex[:8]}"
    with _client(local_hub) as client:
        client.upload_dataset(DatasetV2(name=name, owner="demo-user", zarr_root_path=str(root), license="CC0-1.0"))
        first = client.get_dataset("demo-user", name, lazy=True)
        np.testing.assert_array_equal(np.asarray(first.zarr_root["y"][:]), values)
        manifest = first._remote.store.manifest
        chunks = chunk_cache.ChunkCache(cache / "data" / "chunks")
        damaged, planted = chunks.path_for(manifest["y/1"]), chunks.path_for(manifest["y/2"])
        assert damaged.is_file() and planted.is_file(), "verified chunks were not kept"
        assert os.stat(damaged).st_mode & 0o777 == 0o600

        # damaged in place (times put back) and replaced by another file of the same size
        before = os.stat(damaged)
        with open(damaged, "r+b") as handle:
            handle.write(b"\xff")
        os.utime(damaged, ns=(before.st_atime_ns, before.st_mtime_ns))
        planted.unlink()
        planted.write_bytes(b"\x00" * before.st_size)
        chunk_cache._verified.clear()  # what another process would know

        again = client.get_dataset("demo-user", name, lazy=True)
        np.testing.assert_array_equal(np.asarray(again.zarr_root["y"][:]), values)
        store = again._remote.store
        assert sorted(k for k in store.stats.keys if k.startswith("y/")) == ["y/1", "y/2"], store.stats.keys
        for path, key in ((damaged, "y/1"), (planted, "y/2")):  # fetched, verified and kept again
            assert hashlib.md5(path.read_bytes()).hexdigest() == manifest[key]

"""Dask and xarray over lazy Hub datasets: a 2-process LocalCluster reads straight from storage (real local Hub).

Workers get read-scoped storage credentials through a ``distributed.Variable``; the Hub token never leaves the client.
"""

from __future__ import annotations

import gc
import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import cloudpickle
import numpy as np
import pytest
import zarr

from polaris.artifacts import DatasetV2
from polaris.hub.client import PolarisHubClient
from polaris.hub.storage.lazy import token_from_dict

pytestmark = pytest.mark.timeout(240)

ROWS, ROWS_PER_CHUNK = 120, 10


def _client(hub: Any) -> PolarisHubClient:
    settings = hub.settings(username="demo-user", password=hub.users["demo-user"])
    client = PolarisHubClient(settings, cache_auth_token=False)
    client.show_progress = False
    client.login()
    return client


@pytest.fixture
def client(local_hub: Any) -> Iterator[PolarisHubClient]:
    with _client(local_hub) as c:
        yield c


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as dc,
    ):
        yield dc


def _upload(client: PolarisHubClient, tmp_path: Path) -> tuple[str, dict[str, np.ndarray]]:
    name = f"dask-{uuid.uuid4().hex[:8]}"
    root = tmp_path / "v2.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    data = {"x": np.random.default_rng(1).random((ROWS, 8)), "y": np.arange(ROWS, dtype="int64")}
    for key, values in data.items():
        chunks = (ROWS_PER_CHUNK, *values.shape[1:])
        arr = group.create_array(key, shape=values.shape, chunks=chunks, dtype=values.dtype)
        arr[:] = values
    zarr.consolidate_metadata(str(root), zarr_format=2)
    client.upload_dataset(DatasetV2(name=name, owner="demo-user", zarr_root_path=str(root), license="CC0-1.0"))
    return name, data


def _holds(needle: str) -> bool:
    """Whether any object tracked by the garbage collector of this process holds ``needle`` in a string."""
    for obj in gc.get_objects():
        values: Any
        if isinstance(obj, dict):
            values = list(obj.values()) + list(obj.keys())
        elif isinstance(obj, list | tuple | set | frozenset):
            values = list(obj)
        else:
            continue
        for value in values:
            if isinstance(value, str) and needle in value:
                return True
            if isinstance(value, bytes) and needle.encode() in value:
                return True
    return False


def test_local_cluster_read_equals_eager_and_workers_never_see_the_hub_token(
    client: PolarisHubClient, local_hub: Any, dask_client: Any, tmp_path: Path
) -> None:
    import dask

    name, data = _upload(client, tmp_path)
    hub_token = client._authenticator.tokens.hub_token
    assert hub_token is not None
    hub_jwt = str(hub_token["access_token"])

    lazy = client.get_dataset("demo-user", name, lazy=True)
    darr = lazy.to_dask("x", client=dask_client)
    assert darr.shape == (ROWS, 8) and darr.numblocks == (ROWS // ROWS_PER_CHUNK, 1)

    # what is sent to the workers: the graph holds the storage URL, manifest and the name of a Variable
    payload = cloudpickle.dumps(dict(darr.__dask_graph__()))
    assert hub_jwt.encode() not in payload
    # ... and not the manifest either (workers read it once from a Variable): tasks stay small
    assert lazy._remote.store.manifest["x/3.0"].encode() not in payload
    # ... and the Variable holds read-scoped storage credentials, not the Hub token
    publisher = lazy._remote.publisher(dask_client)
    assert publisher is not None
    published = publisher._variable.get()
    assert hub_jwt not in repr(published)
    storage = token_from_dict(published)
    assert storage.access_token != hub_jwt

    eager = client.get_dataset("demo-user", name)
    from distributed import get_task_stream

    with dask.config.set(scheduler=dask_client.get), get_task_stream(client=dask_client) as stream:
        computed = darr.compute()
        np.testing.assert_array_equal(computed, np.asarray(eager.zarr_root["x"][:]))
        np.testing.assert_array_equal(computed, data["x"])
        ds = lazy.to_xarray(client=dask_client)
        np.testing.assert_array_equal(ds["y"].values, data["y"])
        assert ds["x"].dims == ("row", "x_dim_1")

    # both worker processes read chunks, and none of them holds the Hub token anywhere in memory
    assert len({task["worker"] for task in stream.data}) == 2, "the read did not spread over both workers"
    per_worker = dask_client.run(lambda: _holds(hub_jwt))
    assert len(per_worker) == 2 and not any(per_worker.values()), per_worker
    assert not _holds_storage_write(local_hub, storage)

    # the in-process dataset refuses to be pickled (its token source is the client's login)
    with pytest.raises(TypeError, match="cannot be sent to another process"):
        pickle.dumps(lazy._remote.store)


def _holds_storage_write(hub: Any, storage: Any) -> bool:
    """Whether the workers' credentials can write (they must not: read scope)."""
    s3 = boto3.client(
        "s3",
        endpoint_url=storage.endpoint,
        aws_access_key_id=storage.key,
        aws_secret_access_key=storage.secret,
        aws_session_token=storage.session_token,
        region_name="us-east-1",
    )
    bucket, _, prefix = storage.paths["root"].split("://", 1)[1].partition("/")
    try:
        s3.put_object(Bucket=bucket, Key=f"{prefix}/intruder", Body=b"x")
    except Exception:
        return False
    return True


def test_worker_credentials_are_renewed_by_the_client(local_hub_factory: Any, dask_client: Any, tmp_path: Path) -> None:
    import time

    import dask

    hub = local_hub_factory(token_ttl=2, seed="demo")
    with _client(hub) as client:
        name, data = _upload(client, tmp_path)
        lazy = client.get_dataset("demo-user", name, lazy=True)
        darr = lazy.to_dask("y", client=dask_client)
        publisher = lazy._remote.publisher(dask_client)
        assert publisher is not None
        first = publisher.current.access_token
        with dask.config.set(scheduler=dask_client.get):
            for _ in range(3):  # reads spread over several token lifetimes
                np.testing.assert_array_equal(darr.compute(), data["y"])
                time.sleep(1.5)
        assert publisher.renewals >= 2 and publisher.current.access_token != first
        lazy._remote.close()

"""The faster transfer paths do less work, and the data stay correct (real local Hub)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import zarr

from polaris import checksum_zarr
from polaris.artifacts import DatasetV1, DatasetV2
from polaris.artifacts.dataset import ColumnAnnotation
from polaris.hub.client import PolarisHubClient
from polaris.hub.storage import session as session_module
from polaris.hub.storage import upload as upload_module

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def client(local_hub: Any) -> Iterator[PolarisHubClient]:
    settings = local_hub.settings(username="demo-user", password=local_hub.users["demo-user"])
    with PolarisHubClient(settings, cache_auth_token=False) as c:
        c.show_progress = False
        c.login()
        yield c


def _archive(root: Path) -> np.ndarray:
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    values = np.arange(40 * 5, dtype="float64").reshape(40, 5)
    group.create_array("img", shape=values.shape, chunks=(4, 5), dtype="float64")[:] = values
    zarr.consolidate_metadata(str(root), zarr_format=2)
    return values


def test_uploads_hash_each_file_once(client: PolarisHubClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[Any] = []
    original = upload_module.md5_of

    def counted(data: Any) -> tuple[str, int]:
        hashed.append(data)
        return original(data)

    monkeypatch.setattr(upload_module, "md5_of", counted)
    root = tmp_path / "v2.zarr"
    values = _archive(root)
    name = f"once-{uuid.uuid4().hex[:8]}"
    client.upload_dataset(DatasetV2(name=name, owner="demo-user", zarr_root_path=str(root), license="CC0-1.0"))
    n_files = sum(1 for p in root.rglob("*") if p.is_file())
    assert n_files > 10
    assert len(hashed) == 1, f"{len(hashed)} files hashed at upload; only the manifest is new"
    np.testing.assert_array_equal(np.asarray(client.get_dataset("demo-user", name).zarr_root["img"][:]), values)


def test_v1_verify_uses_the_digests_computed_while_streaming(
    client: PolarisHubClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "images.zarr"
    values = _archive(root)
    name = f"stream-{uuid.uuid4().hex[:8]}"
    table = pd.DataFrame({"img": [f"img#{i}" for i in range(40)], "y": np.arange(40.0)})
    dataset = DatasetV1(
        name=name,
        owner="demo-user",
        table=table,
        annotations={"img": ColumnAnnotation(is_pointer=True)},
        zarr_root_path=str(root),
        license="CC-BY-4.0",
    )
    client.upload_dataset(dataset)

    def no_reread(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the downloaded archive was read again to hash it")

    monkeypatch.setattr(checksum_zarr, "zarr_tree_digest", no_reread)
    back = client.get_dataset("demo-user", name, verify_checksum="verify")
    assert back.md5sum == dataset.md5sum
    np.testing.assert_array_equal(back.get_data(17, "img"), values[17])


def test_one_boto3_session_per_process(client: PolarisHubClient) -> None:
    first = session_module.boto_session()
    assert session_module.boto_session() is first
    made: list[Any] = []
    original = first.client

    def spy(*args: Any, **kwargs: Any) -> Any:
        made.append(args)
        return original(*args, **kwargs)

    first.client = spy
    try:
        for i in range(2):  # two uploads, two storage sessions, one boto3 session
            table = pd.DataFrame({"x": [float(i)]})
            client.upload_dataset(
                DatasetV1(name=f"s-{uuid.uuid4().hex[:8]}", owner="demo-user", table=table, license="MIT"),
                if_exists="skip",
            )
    finally:
        del first.client
    assert session_module.boto_session() is first
    assert made == []  # the HEADs of "skip" go through the session's signed reader now: no boto3 client at all

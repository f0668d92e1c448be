"""Data integrity against a real local Hub: the cache serves only verified bytes, damaged copies are never served."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
import zarr

from polaris.artifacts import DatasetV1, DatasetV2
from polaris.artifacts.dataset import ColumnAnnotation
from polaris.errors import (
    HubConnectionError,
    IncompleteUploadError,
    InvalidArtifactError,
    ObjectConflictError,
    PartialUploadError,
    StorageError,
)
from polaris.hub.client import PolarisHubClient
from polaris.hub.storage import stage_zarr
from polaris.testing.netfaults import CuttingProxy

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
    cache = client.cache
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


# ---------------------------------------------------------------------------------------------- uploads: helpers
class _StorageViaProxy:
    """Points every storage token of a client at a CuttingProxy in front of the Hub's storage endpoint."""

    def __init__(self, client: PolarisHubClient) -> None:
        self.proxy: CuttingProxy | None = None
        auth = client._authenticator
        original = auth.storage_token

        def rewritten(*, resource: str, scope: str) -> dict[str, Any]:
            answer = dict(original(resource=resource, scope=scope))
            extra = dict(answer["extra_data"])
            if self.proxy is None:
                parsed = urlparse(extra["endpoint"])
                assert parsed.hostname and parsed.port
                self.proxy = CuttingProxy((parsed.hostname, parsed.port))
            extra["endpoint"] = self.proxy.url + "/"
            answer["extra_data"] = extra
            return answer

        auth.storage_token = rewritten  # type: ignore[method-assign]

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.close()


@pytest.fixture
def via_proxy(client: PolarisHubClient) -> Iterator[_StorageViaProxy]:
    wrapper = _StorageViaProxy(client)
    yield wrapper
    wrapper.close()


def _chunky_dataset(tmp_path: Path, name: str, *, n_chunks: int = 16, chunk_kib: int = 256) -> DatasetV1:
    """A V1 dataset with a pointer column into a Zarr archive of incompressible chunks."""
    root = tmp_path / f"{name}.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    per_chunk = chunk_kib * 1024 // 8
    values = np.random.default_rng(7).random((n_chunks, per_chunk))
    group.create_array("x", shape=values.shape, chunks=(1, per_chunk), dtype="float64", compressors=None)[:] = values
    table = pd.DataFrame({"x": [f"x#{i}" for i in range(n_chunks)], "y": np.linspace(0.0, 1.0, n_chunks)})
    return DatasetV1(
        name=name,
        owner="demo-user",
        table=table,
        annotations={"x": ColumnAnnotation(is_pointer=True)},
        zarr_root_path=str(root),
        license="CC-BY-4.0",
    )


def _sizes(dataset: DatasetV1, tmp_path: Path) -> dict[str, int]:
    """Object name (as PartialUploadError.missing names them) -> bytes, for what an upload of ``dataset`` sends."""
    assert dataset.zarr_root_path is not None
    staged = stage_zarr(Path(dataset.zarr_root_path), tmp_path / f"sizes-{uuid.uuid4().hex[:6]}")
    sizes = {f"data.zarr/{e.path}": e.size for e in staged.entries()}
    assert dataset.table is not None
    table_file = tmp_path / f"table-{uuid.uuid4().hex[:6]}.parquet"
    dataset.table.to_parquet(table_file)
    sizes["table.parquet"] = table_file.stat().st_size
    return sizes


# ---------------------------------------------------------------------------------------------- uploads: cuts
@pytest.mark.parametrize(
    ("phase", "marker"),
    [("table", b"/table.parquet "), ("zmetadata", b"/.zmetadata "), ("chunks", b"/data.zarr/x/5.0 ")],
)
def test_cut_upload_raises_partial_upload_then_resume_completes(
    client: PolarisHubClient, via_proxy: _StorageViaProxy, tmp_path: Path, phase: str, marker: bytes
) -> None:
    name = _unique(f"cut-{phase}")
    dataset = _chunky_dataset(tmp_path, name)
    # a read token for a seed dataset creates the proxy (and tells where storage is)
    client._authenticator.storage_token(resource="urn:polaris:dataset:polaris-demo:freesolv", scope="read")
    assert via_proxy.proxy is not None
    proxy = via_proxy.proxy
    proxy.cut(marker, after=200)  # reset 200 bytes into that request (its headers); the link stays down
    with pytest.raises(PartialUploadError) as err:
        client.upload_dataset(dataset)
    assert proxy.cuts == 1
    missing = err.value.missing
    if phase == "table":
        assert "table.parquet" in missing and "data.zarr/.zmetadata" in missing
    elif phase == "zmetadata":
        assert "table.parquet" not in missing and "data.zarr/.zmetadata" in missing
    else:
        assert "data.zarr/.zmetadata" not in missing and "data.zarr/x/5.0" in missing
    assert 'if_exists="skip"' in (err.value.hint or "") and name in (err.value.hint or "")

    # the Hub does not publish it: GET says "upload incomplete" with the call that completes it
    with pytest.raises(IncompleteUploadError) as incomplete:
        client.get_dataset("demo-user", name)
    assert incomplete.value.status_code == 409
    assert set(incomplete.value.missing) | set(incomplete.value.mismatched)
    assert 'if_exists="skip"' in (incomplete.value.hint or "")
    assert name not in client.list_datasets(limit=100)

    # resume: only what is missing is sent
    sizes = _sizes(dataset, tmp_path)
    missing_bytes = sum(sizes[m] for m in missing)
    proxy.restore()
    proxy.reset_count()
    client.upload_dataset(dataset, if_exists="skip")
    # What is sent beyond the missing bodies is request headers only: one HEAD per object, one PUT per missing
    # object, each under 2 KiB (signed headers). Any re-sent chunk (256 KiB) would exceed that allowance.
    headers_allowance = 2048 * (len(sizes) + len(missing))
    extra = proxy.sent - missing_bytes
    assert 0 <= extra <= headers_allowance, (
        f"resume sent {proxy.sent} bytes for {missing_bytes} missing; {extra} beyond the bodies "
        f"(headers allow {headers_allowance})"
    )
    assert headers_allowance < min(sizes[n] for n in sizes if n.startswith("data.zarr/x/") and n[-2:] == ".0")
    back = client.get_dataset("demo-user", name, verify_checksum="verify")
    assert isinstance(back, DatasetV1)
    np.testing.assert_array_equal(back.get_data(5, "x"), dataset.get_data(5, "x"))


def test_skip_with_changed_data_is_an_error_and_changes_nothing(client: PolarisHubClient, tmp_path: Path) -> None:
    name = _unique("changed")
    dataset = _chunky_dataset(tmp_path, name, n_chunks=4, chunk_kib=8)
    client.upload_dataset(dataset, if_exists="skip")  # a new dataset: nothing to compare, everything sent
    before = client.get_dataset("demo-user", name)
    changed = _chunky_dataset(tmp_path / "other", name, n_chunks=4, chunk_kib=8)
    assert changed.table is not None
    changed.table["y"] = changed.table["y"] + 1.0
    with pytest.raises(ObjectConflictError) as err:
        client.upload_dataset(changed, if_exists="skip")
    assert err.value.keys == ["table.parquet"] and "table.parquet" in str(err.value)
    assert client.get_dataset("demo-user", name).md5sum == before.md5sum  # the metadata was not touched
    stored = client.upload_dataset(changed, if_exists="replace")  # replace overwrites
    assert stored["md5Sum"] == changed.md5sum != before.md5sum
    assert client.get_dataset("demo-user", name, verify_checksum="verify").md5sum == changed.md5sum


def test_the_users_archive_is_never_written_and_a_later_array_is_included(
    client: PolarisHubClient, tmp_path: Path
) -> None:
    name = _unique("folder")
    dataset = _chunky_dataset(tmp_path, name, n_chunks=4, chunk_kib=8)
    root = Path(str(dataset.zarr_root_path))
    zarr.consolidate_metadata(str(root), zarr_format=2)  # a consolidation made earlier ...
    zarr.open_group(str(root), mode="a", zarr_format=2).create_array("late", shape=(3,), dtype="int64")[:] = [1, 2, 3]

    def snapshot() -> list[tuple[str, int, int]]:
        return sorted((p.relative_to(root).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))

    before = snapshot()
    client.upload_dataset(dataset)
    assert snapshot() == before
    back = client.get_dataset("demo-user", name, verify_checksum="verify")
    assert isinstance(back, DatasetV1) and back.zarr_root_path is not None
    reopened = zarr.open_consolidated(str(back.zarr_root_path), mode="r", zarr_format=2)
    assert list(reopened["late"][:]) == [1, 2, 3]  # ... does not hide the array added after it


@pytest.mark.parametrize(
    ("cells", "named"),
    [
        ([Decimal("1.10"), Decimal("2.20")], "Decimal"),
        ([{"a": 1}, {"b": 2}], "dict"),
        ([[1, 2], [3]], "list"),
        ([1 + 2j, 3j], "complex"),
        (["a", 1], "mixes"),
        (np.array([1 + 2j, 3j]), "complex"),
    ],
)
def test_cells_parquet_cannot_keep_are_refused_before_any_request(
    client: PolarisHubClient, cells: Any, named: str
) -> None:
    name = _unique("cells")
    table = pd.DataFrame({"ok": [1.0, 2.0], "bad": cells})
    dataset = DatasetV1(name=name, owner="demo-user", table=table, license="MIT")
    sent: list[str] = []
    original = client.send

    def counting(request: Any, **kwargs: Any) -> Any:
        sent.append(f"{request.method} {request.url}")
        return original(request, **kwargs)

    client.send = counting  # type: ignore[method-assign]
    with pytest.raises(InvalidArtifactError) as err:
        client.upload_dataset(dataset)
    assert sent == []
    text = str(err.value)
    assert "'bad'" in text and named in text and "convert" in text
    assert "dtype" in text


def test_a_column_whose_parquet_round_trip_changes_the_hash_uploads_and_verifies(
    client: PolarisHubClient,
) -> None:
    name = _unique("roundtrip")
    # object column of ints with a None: Parquet gives back floats with NaN, which hash differently
    table = pd.DataFrame({"n": pd.Series([1, None, 3], dtype=object), "s": ["a", "b", None]})
    dataset = DatasetV1(name=name, owner="demo-user", table=table, license="MIT")
    stored = client.upload_dataset(dataset)
    back = client.get_dataset("demo-user", name, verify_checksum="verify")
    assert back.md5sum == stored["md5Sum"] == dataset.md5sum


def test_documented_positional_upload_call_and_its_timeout(
    client: PolarisHubClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polaris.hub.flows import context as artifact_io

    seen: list[Any] = []
    original = artifact_io.StorageSession.__init__

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.append((kwargs.get("timeout"), client.timeout.connect, client.timeout.read))
        original(self, *args, **kwargs)

    monkeypatch.setattr(artifact_io.StorageSession, "__init__", spy)
    name = _unique("positional")
    dataset = DatasetV1(name=name, owner="demo-user", table=pd.DataFrame({"x": [1.0, 2.0]}), license="MIT")
    stored = client.upload_dataset(dataset, "private", (10, 200))  # as documented: (connect, read) third
    assert stored["name"] == name and stored["owner"]["slug"] == "demo-user"
    assert seen == [((10.0, 200.0), 10.0, 200.0)]
    before = (client.timeout.connect, client.timeout.read)
    client.upload_dataset(dataset, "private", (7, 123))  # the timeout reaches the Hub requests and storage ...
    assert seen[-1] == ((7.0, 123.0), 7.0, 123.0)
    assert (client.timeout.connect, client.timeout.read) == before  # ... of that call only


def test_interrupted_get_dataset_keeps_its_parts_and_the_next_call_continues(
    client: PolarisHubClient, via_proxy: _StorageViaProxy, tmp_path: Path
) -> None:
    name = _unique("dl-resume")
    dataset = _chunky_dataset(tmp_path, name, n_chunks=12, chunk_kib=128)
    client.upload_dataset(dataset)
    client._authenticator.storage_token(resource="urn:polaris:dataset:polaris-demo:freesolv", scope="read")
    assert via_proxy.proxy is not None
    proxy = via_proxy.proxy
    proxy.cut(b"/data.zarr/x/8.0 ", after=0)  # the link drops when that chunk is asked for
    with pytest.raises(StorageError):
        client.get_dataset("demo-user", name, verify_checksum="verify")
    cache = client.cache
    (partial,) = list(cache.root.rglob(f"*{name}*/*.incomplete"))  # the entry being filled is kept ...
    chunks = partial / "data.zarr.incomplete" / "x"
    done_before = {
        p.name: p.stat().st_mtime_ns
        for p in chunks.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".incomplete")
    }
    assert done_before, "no chunk had arrived before the cut"
    assert all(i.artifact_id != f"demo-user/{name}" for i in cache.entries())  # nothing half-done is an entry
    proxy.restore()
    back = client.get_dataset("demo-user", name, verify_checksum="verify")  # ... and continued, verified as a whole
    assert isinstance(back, DatasetV1) and back.zarr_root_path is not None
    np.testing.assert_array_equal(back.get_data(8, "x"), dataset.get_data(8, "x"))
    after = Path(str(back.zarr_root_path)) / "x"
    assert {k: (after / k).stat().st_mtime_ns for k in done_before} == done_before  # kept, not fetched again
    assert not list(cache.root.rglob(f"*{name}*/*.incomplete"))

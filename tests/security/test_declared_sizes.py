"""Sizes a Hub answer or an archive declares are claims: each bomb is refused with a typed error, before allocation.

Every probe runs the client in a child process (``hostile_hub.run_client``) under an address-space limit, and
asserts the error the user sees (:class:`~polaris.errors.DeclaredSizeError`, naming the field and the limit) and
the child's peak RSS. Bombs come from the honest local Hub (published through it) or from :class:`HostileHub`, a
loopback proxy in front of it that lies in its answers and serves objects of its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from hostile_hub import HostileHub, Served, endless, run_client

from polaris.artifacts import DatasetV2
from polaris.hub.client import PolarisHubClient
from polaris.types import HubOwner

pytestmark = pytest.mark.timeout(600)

#: Peak RSS a client child may reach on these probes (a bomb that got through needs gigabytes).
PEAK_RSS_MAX = 700 * 1024**2
DEMO_V2_BENCHMARK = "polaris-demo/freesolv-zarr-expt"
DEMO_ZARR_COMPETITION = "polaris-demo/freesolv-zarr-challenge"


def _shown(result: Any) -> Any:
    """Print what the user saw and the child's peak RSS (visible with ``pytest -s``) and return the result."""
    print(f"\n[probe] {result.error}: {result.message.splitlines()[0] if result.message else ''}")
    print(f"[probe] peak RSS of the client process: {result.peak_rss_mb:.0f} MiB")
    return result


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _settings_env(hub: Any, tmp_path: Path, *, hub_url: str | None = None, login: bool = True) -> dict[str, str]:
    values: dict[str, Any] = {
        "hub_url": hub_url or hub.url,
        "authorize_url": hub.authorize_url,
        "token_fetch_url": hub.token_fetch_url,
        "user_info_url": hub.user_info_url,
        "client_id": hub.client_id,
    }
    if login:
        values.update(username="demo-user", password=hub.users["demo-user"])
    return {
        "PROBE_SETTINGS": json.dumps(values),
        "PROBE_LOGIN": "1" if login else "",
        "POLARIS_CACHE_DIR": str(tmp_path / "probe-cache"),
    }


_CLIENT = """
import json, os
from polaris.hub.client import PolarisHubClient
from polaris.types import HubOwner
from polaris.hub.settings import PolarisHubSettings
client = PolarisHubClient(PolarisHubSettings(**json.loads(os.environ["PROBE_SETTINGS"])), cache_auth_token=False)
client.show_progress = False
if os.environ.get("PROBE_LOGIN"):
    client.login()
"""


# ---------------------------------------------------------------------------------------------- __index__ bomb
def _index_bomb(root: Path, declared: int = 2_000_000_000) -> Path:
    """A tiny V2 archive (3 rows) whose group ``mol`` has an ``__index__`` declaring ``declared`` entries."""
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("x", shape=(3,), chunks=(3,), dtype="int64")[:] = np.arange(3)
    mol = group.create_group("mol")
    for i in range(3):
        mol.create_array(str(i), shape=(2,), chunks=(2,), dtype="float64")[:] = [i, i]
    # No chunk is written: reading it means a fill-value array of `declared` entries (8 bytes each).
    mol.create_array("__index__", shape=(declared,), chunks=(declared,), dtype="int64", fill_value=0)
    zarr.consolidate_metadata(str(root), zarr_format=2)
    return root


@pytest.fixture
def index_bomb(local_hub: Any, tmp_path: Path) -> Iterator[str]:
    """The name of a V2 dataset with an ``__index__`` bomb, published through the honest local Hub."""
    name = _unique("index-bomb")
    root = _index_bomb(tmp_path / "bomb.zarr")
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 8192, size  # the whole archive is a few hundred bytes
    dataset = DatasetV2.model_construct(
        name=name, owner=HubOwner.normalize("demo-user"), zarr_root_path=str(root), license="CC0-1.0"
    )
    dataset._n_rows, dataset._n_columns = 3, 2  # what a hostile uploader declares; the client's own check is skipped
    client = PolarisHubClient(
        local_hub.settings(username="demo-user", password=local_hub.users["demo-user"]), cache_auth_token=False
    )
    with client:
        client.show_progress = False
        client.login()
        client.upload_dataset(dataset)
    yield name


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_index_bomb_is_refused_before_allocation(local_hub: Any, tmp_path: Path, index_bomb: str, lazy: bool) -> None:
    result = _shown(
        run_client(
            _CLIENT + f"client.get_dataset('demo-user', {index_bomb!r}, lazy={lazy})\n",
            env=_settings_env(local_hub, tmp_path),
        )
    )
    assert result.error == "DeclaredSizeError", result.output[-3000:]
    assert result.fields["field"] == "mol/__index__ length"
    assert result.fields["declared"] == 2_000_000_000
    assert result.fields["limit"] == 3  # the group's members: what the archive itself declares
    assert "mol/__index__ length declares 2000000000" in result.message
    assert result.peak_rss < PEAK_RSS_MAX, f"peak RSS {result.peak_rss_mb:.0f} MiB"
    if not lazy:  # nothing of a refused archive stays in the cache as verified
        assert not list((tmp_path / "probe-cache").rglob("metadata.json"))


# ---------------------------------------------------------------------------------------------- index sets
def _huge_set() -> bytes:
    from pyroaring import BitMap

    bitmap = BitMap()
    bitmap.add_range(0, 2**32)
    bitmap.run_optimize()
    return bytes(bitmap.serialize())


def _benchmark_lies(hostile: HostileHub, training: bytes, test: bytes, datapoints: tuple[int, int]) -> None:
    """The V2 benchmark answer names index sets the hostile Hub serves itself, with matching checksums."""
    import hashlib

    urls = {
        "training": hostile.serve("/bomb/training.roaring", Served(training, "application/vnd.roaringbitmap")),
        "test": hostile.serve("/bomb/test.roaring", Served(test, "application/vnd.roaringbitmap")),
    }
    meta = {
        "training": {"datapoints": datapoints[0], "md5Checksum": hashlib.md5(training).hexdigest()},
        "test": {"datapoints": datapoints[1], "md5Checksum": hashlib.md5(test).hexdigest()},
    }

    def lie(answer: Any) -> Any:
        answer["splitContent"] = meta
        answer["split"] = dict(urls)
        return answer

    hostile.rewrite(r"/v2/benchmark/polaris-demo/freesolv-zarr-expt$", lie)


def test_index_sets_of_2_32_rows_are_refused_without_expanding_them(local_hub: Any, tmp_path: Path) -> None:
    huge = _huge_set()
    assert len(huge) < 1024 * 1024  # a bitmap of 2^32 rows is tiny on the wire
    with HostileHub(local_hub.url) as hostile:
        _benchmark_lies(hostile, huge, huge, (2**32, 2**32))
        result = _shown(
            run_client(
                _CLIENT + f"client.get_benchmark({DEMO_V2_BENCHMARK!r})\n",
                env=_settings_env(local_hub, tmp_path, hub_url=hostile.url, login=False),
            )
        )
        served = [r for r in hostile.requests if "/bomb/" in r]
    assert result.error == "DeclaredSizeError", result.output[-3000:]
    assert result.fields["field"] == "index set datapoints"
    assert result.fields["declared"] == 2**32
    assert "nRows" in result.fields["reason"]
    assert result.peak_rss < PEAK_RSS_MAX, f"peak RSS {result.peak_rss_mb:.0f} MiB"
    assert not served, f"the bitmaps were read although their declared size was refused: {served}"
    assert not list((tmp_path / "probe-cache").rglob("*.roaring"))


def test_overlapping_index_sets_are_checked_on_the_bitmaps_and_never_cached(local_hub: Any, tmp_path: Path) -> None:
    """Sets that lie only in their content (sizes within nRows, checksums right) overlap: refused before caching."""
    from pyroaring import BitMap

    train = bytes(BitMap(range(0, 100)).serialize())
    test = bytes(BitMap(range(50, 120)).serialize())
    with HostileHub(local_hub.url) as hostile:
        _benchmark_lies(hostile, train, test, (100, 70))
        result = _shown(
            run_client(
                _CLIENT + f"client.get_benchmark({DEMO_V2_BENCHMARK!r})\n",
                env=_settings_env(local_hub, tmp_path, hub_url=hostile.url, login=False),
            )
        )
    assert result.error == "InvalidArtifactError", result.output[-3000:]
    assert "overlaps the training set at 50 rows" in result.message
    assert not list((tmp_path / "probe-cache").rglob("*.roaring")), "a refused index set reached the cache"


def test_out_of_range_index_sets_never_enter_the_cache(local_hub: Any, tmp_path: Path) -> None:
    from pyroaring import BitMap

    train = bytes(BitMap(range(0, 10)).serialize())
    test = bytes(BitMap([10, 11, 10_000_000]).serialize())
    with HostileHub(local_hub.url) as hostile:
        _benchmark_lies(hostile, train, test, (10, 3))
        result = _shown(
            run_client(
                _CLIENT + f"client.get_benchmark({DEMO_V2_BENCHMARK!r})\n",
                env=_settings_env(local_hub, tmp_path, hub_url=hostile.url, login=False),
            )
        )
    assert result.error == "InvalidArtifactError", result.output[-3000:]
    assert "index 10000000 is out of range" in result.message
    assert not list((tmp_path / "probe-cache").rglob("*.roaring")), "a refused index set reached the cache"


def test_an_index_set_answer_without_length_is_read_with_a_limit(local_hub: Any, tmp_path: Path) -> None:
    """Binary Content-Type, no Content-Length, an endless body: the read stops at the bound of the set declared."""
    from pyroaring import BitMap

    small = bytes(BitMap(range(0, 10)).serialize())
    with HostileHub(local_hub.url) as hostile:
        _benchmark_lies(hostile, small, small, (10, 10))
        hostile.serve("/bomb/test.roaring", Served(endless(), "application/octet-stream"))
        hostile.served["/bomb/training.roaring"] = Served(small, "application/octet-stream", length=False)
        result = _shown(
            run_client(
                _CLIENT + f"client.get_benchmark({DEMO_V2_BENCHMARK!r})\n",
                env=_settings_env(local_hub, tmp_path, hub_url=hostile.url, login=False),
            )
        )
    assert result.error == "DeclaredSizeError", result.output[-3000:]
    assert result.fields["field"].startswith("the body of ")
    from polaris.artifacts.index_set import roaring_max_bytes

    assert result.fields["limit"] == roaring_max_bytes(10) == 264  # what a Roaring bitmap of 10 rows can take
    assert result.peak_rss < PEAK_RSS_MAX, f"peak RSS {result.peak_rss_mb:.0f} MiB"


# ---------------------------------------------------------------------------------------------- .zmetadata
def _competition_lies(hostile: HostileHub, zmetadata: Any) -> None:
    """The 0.11 competition answer names no manifest checksum and a root the hostile Hub serves."""
    root = hostile.serve("/bomb/archive.zarr/.zmetadata", Served(json.dumps(zmetadata).encode(), "application/json"))

    def lie(answer: Any) -> Any:
        for key in ("zarrManifestMd5Sum", "zarrManifestFileContent"):
            answer.pop(key, None)
        answer["root"] = root.rsplit("/", 1)[0]
        return answer

    hostile.rewrite(r"/v1/competition/polaris-demo/freesolv-zarr-challenge$", lie)


def _zarray(shape: int, chunks: int) -> dict[str, Any]:
    return {"zarr_format": 2, "shape": [shape], "chunks": [chunks], "dtype": "<f8", "compressor": None,
            "fill_value": 0, "filters": None, "order": "C"}  # fmt: skip


def test_a_zmetadata_declaring_3e8_chunks_is_not_enumerated(local_hub: Any, tmp_path: Path) -> None:
    """A 0.11 competition answer without a manifest checksum, whose archive's metadata declares 3e8 chunks."""
    zmetadata = {"metadata": {".zgroup": {"zarr_format": 2}, "calc/.zarray": _zarray(300_000_000, 1)}}
    with HostileHub(local_hub.url) as hostile:
        _competition_lies(hostile, zmetadata)
        result = _shown(
            run_client(
                _CLIENT + f"client.get_competition({DEMO_ZARR_COMPETITION!r})\n",
                env=_settings_env(local_hub, tmp_path, hub_url=hostile.url, login=False),
            )
        )
    assert result.error == "DeclaredSizeError", result.output[-3000:]
    assert result.fields["field"] == "the chunk keys of .zmetadata"
    assert result.fields["declared"] == 300_000_000 + 3  # the chunks, and the .zmetadata and the two documents
    assert result.fields["limit"] == 2 * 1024**3 // 128
    assert "max_declared_bytes" in result.fields["reason"]
    assert result.peak_rss < PEAK_RSS_MAX, f"peak RSS {result.peak_rss_mb:.0f} MiB"


def test_the_ceiling_is_configurable(local_hub: Any, tmp_path: Path) -> None:
    """POLARIS_MAX_DECLARED_BYTES lowers the ceiling: a 4 MiB chunk is refused at 1 MiB, naming both."""
    zmetadata = {"metadata": {".zgroup": {"zarr_format": 2}, "a/.zarray": _zarray(1_000_000, 524_288)}}
    with HostileHub(local_hub.url) as hostile:
        _competition_lies(hostile, zmetadata)
        env = _settings_env(local_hub, tmp_path, hub_url=hostile.url, login=False)
        result = _shown(
            run_client(
                _CLIENT + f"client.get_competition({DEMO_ZARR_COMPETITION!r})\n",
                env={**env, "POLARIS_MAX_DECLARED_BYTES": str(1024 * 1024)},
            )
        )
    assert result.error == "DeclaredSizeError", result.output[-3000:]
    assert result.fields["field"] == "a chunk of [524288]"
    assert result.fields["declared"] == 524_288 and result.fields["limit"] == 131_072
    assert "1048576 bytes at 8 bytes each" in result.fields["reason"]
    assert "POLARIS_MAX_DECLARED_BYTES" in result.message  # the hint says how to raise it


# ---------------------------------------------------------------------------------------------- without a Hub
def test_overlap_of_two_2_32_row_sets_is_computed_on_the_bitmaps() -> None:
    """Two sets of 2^32 rows each, in full overlap: the refusal counts on the bitmaps, no list of rows is made."""
    code = """
    from pyroaring import BitMap
    from polaris.artifacts import IndexSet
    from polaris.artifacts.benchmark_v2 import check_index_sets
    b = BitMap()
    b.add_range(0, 2**32)
    b.run_optimize()
    raw = bytes(b.serialize())
    a, c = IndexSet.deserialize(raw), IndexSet.deserialize(raw)
    assert a.datapoints == 2**32 and a.max_index() == 2**32 - 1
    check_index_sets(a, c, n_rows=2**32, artifact="urn:polaris:benchmark:x:y")
    """
    result = _shown(run_client(code))
    assert result.error == "InvalidArtifactError", result.output[-3000:]
    assert "overlaps the training set at 4294967296 rows, first [0, 1, 2" in result.message
    assert result.peak_rss < PEAK_RSS_MAX, f"peak RSS {result.peak_rss_mb:.0f} MiB"


def test_a_chunk_grid_bomb_in_a_local_archive_is_refused(tmp_path: Path) -> None:
    """Three rows, one chunk declared 2e9 long: reading one row would decode 16 GB."""
    from polaris.errors import DeclaredSizeError

    root = tmp_path / "grid.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("x", shape=(3,), chunks=(2_000_000_000,), dtype="int64", fill_value=0)
    zarr.consolidate_metadata(str(root), zarr_format=2)
    with pytest.raises(DeclaredSizeError) as err:
        DatasetV2(name="grid-bomb", zarr_root_path=str(root), license="CC0-1.0")
    assert err.value.field == "x chunk of [2000000000]"
    assert err.value.limit == 2 * 1024**3 // 8


@pytest.mark.parametrize("method", ["read", "read_hashed"])
def test_a_storage_object_without_length_is_read_with_a_limit(method: str) -> None:
    """A storage endpoint answering with a binary body, no Content-Length and no end: bounded by ``max_bytes``."""
    code = f"""
    import os
    from polaris.hub.storage.endpoint import Endpoint
    from polaris.hub.storage.reader import ObjectReader
    from polaris.hub.storage.tokens import ObjectLocation, StorageToken
    token = StorageToken(access_token="t", key="k", secret="s", endpoint=os.environ["PROBE_ENDPOINT"], paths={{}})
    reader = ObjectReader(Endpoint(token, timeout=(5.0, 30.0), ca_bundle=None, max_connections=1))
    reader.{method}(ObjectLocation("bucket", "bomb/test.roaring"), max_bytes=8 * 1024 * 1024)
    """
    with HostileHub("http://127.0.0.1:9/") as hostile:  # nothing is forwarded: every path is its own
        hostile.serve("/bucket/bomb/test.roaring", Served(endless(), "application/octet-stream"))
        result = _shown(run_client(code, env={"PROBE_ENDPOINT": hostile.url}))
    assert result.error == "DeclaredSizeError", result.output[-3000:]
    assert result.fields["field"] == "the body of the object 'bomb/test.roaring'"
    assert result.fields["limit"] == 8 * 1024 * 1024
    assert result.peak_rss < PEAK_RSS_MAX, f"peak RSS {result.peak_rss_mb:.0f} MiB"


def test_an_endless_zmetadata_is_read_only_up_to_the_json_cap() -> None:
    """A ``.zmetadata`` is parsed in memory: at most 64 MiB of it is read, whatever the content type says."""
    code = """
    import os
    from polaris.hub.direct import DirectReader
    with DirectReader() as reader:
        reader.zarr_keys(os.environ["PROBE_ROOT"], artifact="owner/competition")
    """
    with HostileHub("http://127.0.0.1:9/") as hostile:
        url = hostile.serve("/bomb/archive.zarr/.zmetadata", Served(endless(b"[" * 65536), "application/octet-stream"))
        result = _shown(run_client(code, env={"PROBE_ROOT": url.rsplit("/", 1)[0]}))
    assert result.error == "DeclaredSizeError", result.output[-3000:]
    assert result.fields["field"].startswith("the body of http://127.0.0.1:")
    assert result.fields["limit"] == 64 * 1024 * 1024
    assert "JSON metadata document" in result.fields["reason"]
    assert result.peak_rss < PEAK_RSS_MAX, f"peak RSS {result.peak_rss_mb:.0f} MiB"


# ---------------------------------------------------------------------------------------------- manifests
@pytest.mark.parametrize(
    ("rows", "refusal"),
    [
        ([("calc/0", "0" * 32), ("calc//0", "1" * 32)], "holds an empty segment"),
        ([("calc/0", "0" * 32), ("calc/0", "1" * 32)], "is listed twice"),
        ([("calc/0", "/etc/passwd")], "not 32 hex digits"),
        ([("../../outside", "0" * 32)], "holds a '..' segment"),
    ],
    ids=["alias", "duplicate", "path-as-md5", "dotdot"],
)
def test_a_hostile_manifest_is_refused_before_anything_is_read(
    local_hub: Any, tmp_path: Path, rows: list[tuple[str, str]], refusal: str
) -> None:
    """The V2 dataset answer names a manifest (with its right md5) whose keys or values are paths, not data."""
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "manifest.parquet"
    pq.write_table(pa.table({"path": [r[0] for r in rows], "md5_checksum": [r[1] for r in rows]}), path)
    manifest = path.read_bytes()
    with HostileHub(local_hub.url) as hostile:
        hostile.serve("/bomb/zarr_manifest.parquet", Served(manifest, "application/vnd.apache.parquet"))
        root = hostile.url.rstrip("/") + "/bomb/archive.zarr"

        def lie(answer: Any) -> Any:
            answer["root"] = root
            answer["zarrManifestMd5Sum"] = hashlib.md5(manifest).hexdigest()
            answer.pop("zarrManifestFileContent", None)
            return answer

        hostile.rewrite(r"/v2/dataset/polaris-demo/freesolv-zarr$", lie)
        result = _shown(
            run_client(
                _CLIENT + "client.get_dataset('polaris-demo/freesolv-zarr')\n",
                env=_settings_env(local_hub, tmp_path, hub_url=hostile.url, login=False),
            )
        )
        archive_reads = [r for r in hostile.requests if "/bomb/archive.zarr" in r]
    assert result.error == "InvalidArtifactError", result.output[-3000:]
    assert refusal in result.message
    assert not archive_reads, f"objects were read from a refused manifest: {archive_reads}"
    assert not list((tmp_path / "probe-cache").rglob("metadata.json")), "a refused dataset reached the cache"


def test_the_ceiling_applies_to_an_eager_download_too(local_hub: Any, tmp_path: Path) -> None:
    """An honest archive whose 8 KiB chunks (decoded) exceed a ceiling lowered to 4 KiB: refused, nothing cached.

    Every stored object is smaller than 4 KiB (compressed), so the listing's size bound lets the download through.
    """
    name = _unique("ceiling")
    root = tmp_path / "honest.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("x", shape=(4096,), chunks=(1024,), dtype="float64")[:] = np.arange(4096.0)
    zarr.consolidate_metadata(str(root), zarr_format=2)
    settings = local_hub.settings(username="demo-user", password=local_hub.users["demo-user"])
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        client.show_progress = False
        client.login()
        client.upload_dataset(DatasetV2(name=name, owner="demo-user", zarr_root_path=str(root), license="CC0-1.0"))
    env = {**_settings_env(local_hub, tmp_path), "POLARIS_MAX_DECLARED_BYTES": "4096"}
    result = _shown(run_client(_CLIENT + f"client.get_dataset('demo-user', {name!r})\n", env=env))
    assert result.error == "DeclaredSizeError", result.output[-3000:]
    assert result.fields["field"] == "x chunk of [1024]"
    assert result.fields["declared"] == 1024 and result.fields["limit"] == 512
    assert not list((tmp_path / "probe-cache").rglob("metadata.json"))


# ---------------------------------------------------------------------------------------------- V1 archives
@pytest.fixture
def v1_grid(local_hub: Any, tmp_path: Path) -> Iterator[str]:
    """A public V1 dataset (pointer column) whose archive holds one array of 1024-element float64 chunks."""
    import pandas as pd

    from polaris.artifacts import ColumnAnnotation, DatasetV1

    name = _unique("v1-grid")
    root = tmp_path / "v1.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("x", shape=(4, 2048), chunks=(1, 1024), dtype="float64")[:] = np.arange(8192.0).reshape(4, 2048)
    dataset = DatasetV1(
        name=name,
        owner="demo-user",
        table=pd.DataFrame({"x": [f"x#{i}" for i in range(4)], "y": [0.0, 1.0, 2.0, 3.0]}),
        annotations={"x": ColumnAnnotation(is_pointer=True)},
        zarr_root_path=str(root),
        license="CC0-1.0",
    )
    settings = local_hub.settings(username="demo-user", password=local_hub.users["demo-user"])
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        client.show_progress = False
        client.login()
        client.upload_dataset(dataset, access="public")
    yield name


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_a_v1_archive_gets_the_chunk_bound_too(local_hub: Any, tmp_path: Path, v1_grid: str, lazy: bool) -> None:
    """A V1 dataset's arrays are bounded as a V2 archive's: 8 KiB chunks (decoded) under a 4 KiB ceiling are refused.

    Every stored object is smaller than 4 KiB (compressed), so the eager download's listing bound lets them through.
    """
    env = {**_settings_env(local_hub, tmp_path), "POLARIS_MAX_DECLARED_BYTES": "4096"}
    result = _shown(run_client(_CLIENT + f"client.get_dataset('demo-user', {v1_grid!r}, lazy={lazy})\n", env=env))
    assert result.error == "DeclaredSizeError", result.output[-3000:]
    assert result.fields["field"] == "x chunk of [1, 1024]"
    assert result.fields["declared"] == 1024 and result.fields["limit"] == 512
    if not lazy:  # refused inside the fill: nothing of it is cached
        assert not list((tmp_path / "probe-cache").rglob("metadata.json"))
    # the same dataset under the default ceiling reads fine (the bound refuses the size, not the archive)
    ok = run_client(
        _CLIENT + f"d = client.get_dataset('demo-user', {v1_grid!r}, lazy={lazy})\n"
        "assert d.get_data(2, 'x')[5] == 4101\n",
        env=_settings_env(local_hub, tmp_path),
    )
    assert ok.error is None, ok.output[-3000:]


@pytest.mark.parametrize("key", [".zmetadata", "x/.zarray"])
def test_the_lazy_store_reads_a_metadata_document_only_up_to_the_json_cap(key: str) -> None:
    """The lazy store's own metadata reads (no manifest: nothing else bounds them) stop at the 64 MiB JSON cap."""
    code = f"""
    import os
    from polaris.hub.storage.lazy import HubZarrStore
    from polaris.hub.storage.session import StorageSession
    from polaris.hub.storage.tokens import StorageToken
    token = StorageToken(access_token="t", key="k", secret="s", endpoint=os.environ["PROBE_ENDPOINT"], paths={{}})
    session = StorageSession(lambda: token, max_workers=1, progress=False)
    store = HubZarrStore(lambda: token, "s3://bucket/archive.zarr", manifest=None, session=session)
    store.fetch({key!r})
    """
    with HostileHub("http://127.0.0.1:9/") as hostile:  # nothing is forwarded: every path is its own
        hostile.serve(f"/bucket/archive.zarr/{key}", Served(endless(b"{" * 65536), "application/octet-stream"))
        result = _shown(run_client(code, env={"PROBE_ENDPOINT": hostile.url}))
    assert result.error == "DeclaredSizeError", result.output[-3000:]
    assert result.fields["field"] == f"the body of the object 'archive.zarr/{key}'"
    assert result.fields["limit"] == 64 * 1024 * 1024
    assert result.peak_rss < PEAK_RSS_MAX, f"peak RSS {result.peak_rss_mb:.0f} MiB"


@pytest.mark.parametrize("lie", ["manifest-size", "ceiling"])
def test_a_v1_listing_is_bounded_by_the_declared_sizes_before_any_fetch(
    local_hub: Any, tmp_path: Path, v1_grid: str, lie: str
) -> None:
    """A listed object larger than its ``zarrContent`` size, or than the ceiling, is refused before it is fetched."""
    shrunk: list[tuple[str, int]] = []

    def smaller(answer: Any) -> Any:
        entry = next(e for e in answer["zarrContent"] if e["path"].startswith("x/") and "/." not in e["path"])
        shrunk.append((entry["path"], entry["size"]))
        entry["size"] = 1
        return answer

    with HostileHub(local_hub.url) as hostile:
        env = _settings_env(local_hub, tmp_path, hub_url=hostile.url)  # logged in: the storage listing path
        if lie == "manifest-size":
            hostile.rewrite(rf"/v1/dataset/demo-user/{v1_grid}$", smaller)
        else:
            env["POLARIS_MAX_DECLARED_BYTES"] = "64"
        result = _shown(run_client(_CLIENT + f"client.get_dataset('demo-user', {v1_grid!r})\n", env=env))
    assert result.error == "DeclaredSizeError", result.output[-3000:]
    assert result.fields["field"].startswith("the listed size of the object ")
    if lie == "manifest-size":
        assert shrunk, "the rewrite did not apply"
        assert result.fields["field"] == f"the listed size of the object {shrunk[0][0]!r}"
        assert result.fields["declared"] == shrunk[0][1] and result.fields["limit"] == 1
        assert "the 1 bytes the manifest declares for it" in result.message
    else:
        assert result.fields["limit"] == 64 and result.fields["declared"] > 64
    cache = tmp_path / "probe-cache"
    assert not list(cache.rglob("data.zarr*")), "objects of a refused listing were fetched"
    assert not list(cache.rglob("metadata.json"))


def test_an_anonymous_v1_download_is_bounded_by_the_declared_sizes(
    local_hub: Any, tmp_path: Path, v1_grid: str
) -> None:
    """Without a login the archive comes over its direct URLs: each object is still bounded by its ``zarrContent``
    size (the announced length is refused before the body is read), and nothing enters the cache."""
    shrunk: list[tuple[str, int]] = []

    def smaller(answer: Any) -> Any:
        entry = next(e for e in answer["zarrContent"] if e["path"].startswith("x/") and "/." not in e["path"])
        shrunk.append((entry["path"], entry["size"]))
        entry["size"] = 1
        return answer

    with HostileHub(local_hub.url) as hostile:
        env = _settings_env(local_hub, tmp_path, hub_url=hostile.url, login=False)  # anonymous: direct URLs
        hostile.rewrite(rf"/v1/dataset/demo-user/{v1_grid}$", smaller)
        result = _shown(run_client(_CLIENT + f"client.get_dataset('demo-user', {v1_grid!r})\n", env=env))
    assert shrunk, "the rewrite did not apply"
    assert result.error == "DeclaredSizeError", result.output[-3000:]
    assert result.fields["field"] == f"the length of Zarr key {shrunk[0][0]!r}"
    assert result.fields["declared"] == shrunk[0][1] and result.fields["limit"] == 1
    assert not list((tmp_path / "probe-cache").rglob("metadata.json")), "a refused download entered the cache"


@pytest.mark.parametrize("size", [-1, "12", 1.5, True])
def test_a_zarr_content_size_that_is_not_a_byte_count_is_refused(size: Any) -> None:
    from polaris.checksum_zarr import manifest_sizes_from_wire
    from polaris.errors import InvalidArtifactError

    entries = [{"path": "x/0", "md5sum": "0" * 32, "size": 3}, {"path": "x/1", "md5sum": "1" * 32, "size": size}]
    with pytest.raises(InvalidArtifactError, match=r"the size of 'x/1' is .* not a byte count"):
        manifest_sizes_from_wire(entries)
    assert manifest_sizes_from_wire([entries[0], {"path": "x/1", "md5sum": "1" * 32}]) == {"x/0": 3}

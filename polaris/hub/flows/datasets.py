"""Getting datasets (V1: table + optional Zarr; V2: Zarr only) into the verified cache, or opened lazily in storage.

The flow of every download:

1. the metadata from the Hub, whichever generation answers (``wire.datasets.get_dataset``),
   or the verified cached copy when the Hub cannot be used (:meth:`~polaris.hub.flows.context.FlowContext.fetch`);
2. the content looked up in the content-addressed :class:`~polaris.hub.cache.DownloadCache` (artifact id + the
   Hub's checksum), so an unchanged dataset is never transferred twice;
3. on a miss, a read storage token (or the direct URLs of public data) and the objects streamed into
   ``<entry>.incomplete``, every file (and Zarr chunk, against the Hub's manifest) verified as it arrives, the
   dataset's checksum when the strategy says so; only then the entry is renamed into place;
4. the dataset built from the metadata and the local files.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from polaris import checksum, checksum_rows, checksum_zarr
from polaris.errors import OfflineError, PolarisChecksumError, StorageError
from polaris.hub.cache import CacheKey
from polaris.hub.flows.context import (
    MANIFEST_FILE,
    TABLE_FILE,
    ZARR_DIR,
    Fetched,
    FlowContext,
)
from polaris.hub.storage import StorageSession
from polaris.hub.wire.generations import Generation
from polaris.types import ChecksumStrategy, artifact_urn, slugify

if TYPE_CHECKING:
    from polaris.artifacts import DatasetV1, DatasetV2

__all__ = ["Datasets", "dataset_generation"]

logger = logging.getLogger(__name__)

_D = TypeVar("_D")


def dataset_generation(data: Mapping[str, Any]) -> Generation:
    """The generation of a dataset answer cached before entries recorded it."""
    return Generation.V2 if "zarrManifestMd5Sum" in data and "md5Sum" not in data else Generation.V1


class _HubLink:
    """How a dataset got from the Hub can be opened remotely again; dropped when the dataset is pickled."""

    def __init__(self, datasets: Datasets, owner: str, name: str) -> None:
        self._datasets = datasets
        self.owner = owner
        self.name = name

    def open(self, *, cache_chunks: bool = True) -> DatasetV1 | DatasetV2:
        return self._datasets.open_remote(self.owner, self.name, cache_chunks=cache_chunks)

    def __reduce__(self) -> Any:
        return (_no_link, ())


def _no_link() -> None:
    return None


class Datasets:
    """Datasets of one client: :meth:`get` (through the cache), :meth:`open_remote` (lazy)."""

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    def _linked(self, dataset: _D, owner: str, name: str) -> _D:
        dataset._hub_link = _HubLink(self, owner, name)  # type: ignore[attr-defined]
        return dataset

    # ------------------------------------------------------------------ get
    def get(
        self,
        owner: str,
        name: str,
        verify_checksum: ChecksumStrategy,
        *,
        lazy: bool = False,
        parent: Fetched | None = None,
    ) -> DatasetV1 | DatasetV2:
        """V1 or V2, whichever generation answers (the one that did is asked first next time).

        ``parent``: the artifact this dataset belongs to (see :meth:`FlowContext.fetch`).
        """
        if lazy:
            if self.ctx.offline:
                raise OfflineError(
                    f"Offline mode is on: the lazy dataset {owner}/{name} reads its chunks from the Hub's storage",
                    hint="Load it without lazy=True (from the local cache), or unset POLARIS_OFFLINE.",
                )
            return self.open_remote(owner, name)
        fetched = self.ctx.fetch(
            "dataset",
            owner,
            name,
            lambda: self.ctx.wire.datasets.get_dataset(owner, name),
            infer=dataset_generation,
            parent=parent,
        )
        if fetched.entry is not None:
            if fetched.generation is Generation.V2:
                return self.v2_from_entry(fetched.data, fetched.entry)
            return self.v1_from_entry(fetched.data, fetched.entry)
        urn = artifact_urn("dataset", owner, name)
        if fetched.generation is Generation.V1:
            self.ctx.note_direct(urn, fetched.data, ("root", "extension"))
            return self._linked(self.load_v1(owner, name, fetched, verify_checksum), owner, name)
        self.ctx.note_zarr_root(urn, fetched.data)
        return self._linked(self._load_v2(owner, name, fetched.data, verify_checksum), owner, name)

    # ------------------------------------------------------------------ V1
    def load_v1(
        self, owner: str, name: str, fetched: Fetched, verify: ChecksumStrategy, *, kind: str = "dataset"
    ) -> DatasetV1:
        """A V1-layout dataset (also a 0.10 competition's dataset, ``kind="competitionDataset"``) via the cache."""
        data = fetched.data
        artifact_id = str(data.get("artifactId") or f"{owner}/{slugify(name)}")
        md5 = str(data["md5Sum"]) if kind == "dataset" else str(data.get("maskedMd5Sum") or data["md5Sum"])
        table_md5 = (data.get("tableContent") or {}).get("md5Sum")
        annotations = data.get("annotations") or {}
        has_zarr = any(bool(a.get("isPointer")) for a in annotations.values() if isinstance(a, Mapping))
        manifest = checksum_zarr.manifest_from_wire(data.get("zarrContent"))
        declared_sizes = checksum_zarr.manifest_sizes_from_wire(data.get("zarrContent"))
        # The dataset URN is used for competition datasets too, as the Hub expects.
        urn = artifact_urn("dataset", owner, name)

        streamed: dict[str, tuple[str, int]] = {}
        filled: list[Any] = []  # the table this call's fill read (and verified): the entry holds the same file

        def fill(tmp: Path) -> dict[str, tuple[str, int]]:
            tmp.mkdir(parents=True, exist_ok=True)  # may hold what an interrupted download left
            streamed.clear()
            with self.ctx.storage(urn, "read") as session:
                paths = session.token.paths
                session.download_file(paths["root"], tmp / TABLE_FILE, expected_md5=table_md5, artifact=artifact_id)
                if has_zarr:
                    extension = paths.get("extension")
                    if not extension:
                        raise StorageError(
                            f"the Hub gave no Zarr location for {artifact_id}, which has pointer columns"
                        )
                    session.download_zarr(
                        extension,
                        tmp / ZARR_DIR,
                        manifest=manifest,
                        artifact=artifact_id,
                        digests=streamed,
                        sizes=declared_sizes,
                        max_bytes=self.ctx.settings.max_declared_bytes,
                    )
            dataset = self.v1_from_entry(data, tmp, kind=kind)
            filled[:] = [dataset.table]
            # Pointer columns included: the archive's digest comes from the md5s computed while it streamed to
            # disk (the same files, so the same value as re-reading them), the table's from the table.
            local = tmp / ZARR_DIR
            on_disk = {f.relative_to(local).as_posix() for f in local.rglob("*") if f.is_file()} if has_zarr else set()
            if full_check and has_zarr and on_disk == set(streamed):
                tree = checksum_zarr.zarr_tree_digest_from_entries((p, m, n) for p, (m, n) in streamed.items())
                checksum.verify_md5(md5, checksum_rows.dataset_md5(dataset.table, tree), artifact=artifact_id)
            elif full_check:
                dataset.verify_checksum(md5)
            self.ctx.write_metadata(tmp, fetched.generation, data)
            # md5s computed while the files streamed in (and checked against the Hub's): the cache records them
            known = {f"{ZARR_DIR}/{rel}": digest for rel, digest in streamed.items()}
            if table_md5 is not None:
                known[TABLE_FILE] = (str(table_md5).lower(), (tmp / TABLE_FILE).stat().st_size)
            return known

        full_check = verify == "verify" or checksum.should_verify(verify, has_zarr=has_zarr, version=1)
        # Verified = every byte was checked against a checksum of the Hub: the whole dataset, or each file.
        files_checked = table_md5 is not None and (not has_zarr or manifest is not None)
        entry = self.ctx.cache.fetch(
            CacheKey(kind, artifact_id, md5), fill, verified=full_check or files_checked, resume=True
        )
        # Filled just now: the table parsed during the fill is the one in the entry (not read a second time).
        return self.v1_from_entry(data, entry, kind=kind, table=filled[0] if filled else None)

    def v1_from_entry(
        self, data: Mapping[str, Any], entry: Path, *, kind: str = "dataset", table: Any = None
    ) -> DatasetV1:
        """The V1 dataset held in the cache folder ``entry``; its Zarr archive's chunk grids checked first.

        Raises:
            DeclaredSizeError: an array of the archive declares a chunk beyond the ``max_declared_bytes`` ceiling.
        """
        import pandas as pd
        import zarr

        from polaris.artifacts import DatasetV1
        from polaris.artifacts.dataset import CompetitionDataset

        try:
            if table is None:
                table = pd.read_parquet(entry / TABLE_FILE)
        except Exception as exc:  # pyarrow's ArrowInvalid and friends: a damaged file, never data
            raise PolarisChecksumError(
                f"the table at {entry / TABLE_FILE} cannot be read ({type(exc).__name__})",
                artifact=str(data.get("artifactId") or "") or None,
                hint="Remove the damaged copy with `polaris cache rm` (or DownloadCache.remove) and load it again.",
            ) from exc
        zarr_path = entry / ZARR_DIR
        if zarr_path.is_dir():
            _check_v1_archive(
                zarr.open_group(str(zarr_path), mode="r"),
                self.ctx.settings.max_declared_bytes,
                str(data.get("artifactId") or "") or None,
            )
        cls = CompetitionDataset if kind == "competitionDataset" else DatasetV1
        dataset: DatasetV1 = cls.from_wire(
            data, table=table, zarr_root_path=str(zarr_path) if zarr_path.is_dir() else None
        )
        return dataset

    # ------------------------------------------------------------------ V2
    def _load_v2(self, owner: str, name: str, data: dict[str, Any], verify: ChecksumStrategy) -> DatasetV2:
        artifact_id = str(data.get("artifactId") or f"{owner}/{slugify(name)}")
        manifest_md5 = str(data["zarrManifestMd5Sum"])
        urn = artifact_urn("dataset", owner, name)

        def fill(tmp: Path) -> dict[str, tuple[str, int]]:
            tmp.mkdir(parents=True, exist_ok=True)  # may hold what an interrupted download left
            streamed: dict[str, tuple[str, int]] = {}
            with self.ctx.storage(urn, "read") as session:
                paths = session.token.paths
                expected = None if verify == "ignore" else manifest_md5
                session.download_file(
                    paths["manifest"], tmp / MANIFEST_FILE, expected_md5=expected, artifact=artifact_id
                )
                manifest = None if verify == "ignore" else checksum_zarr.read_zarr_manifest(tmp / MANIFEST_FILE)
                session.download_zarr(
                    paths["root"],
                    tmp / ZARR_DIR,
                    manifest=manifest,
                    artifact=artifact_id,
                    digests=streamed,
                    max_bytes=self.ctx.settings.max_declared_bytes,
                )
            self.v2_from_entry(data, tmp)  # validates the archive's layout before it is cached
            self.ctx.write_metadata(tmp, Generation.V2, data)
            # md5s computed while the files streamed in (and checked against the Hub's): the cache records them
            known = {f"{ZARR_DIR}/{rel}": digest for rel, digest in streamed.items()}
            if expected is not None:
                known[MANIFEST_FILE] = (expected.lower(), (tmp / MANIFEST_FILE).stat().st_size)
            return known

        key = CacheKey("dataset", artifact_id, manifest_md5)
        entry = self.ctx.cache.fetch(key, fill, verified=verify != "ignore", resume=True)
        return self.v2_from_entry(data, entry)

    def v2_from_entry(self, data: Mapping[str, Any], entry: Path) -> DatasetV2:
        from polaris.artifacts import DatasetV2

        dataset: DatasetV2 = DatasetV2.from_wire(
            data, zarr_root_path=str(entry / ZARR_DIR), max_declared_bytes=self.ctx.settings.max_declared_bytes
        )
        return dataset

    # ------------------------------------------------------------------ lazy (remote) datasets
    def open_remote(self, owner: str, name: str, *, cache_chunks: bool = True) -> DatasetV1 | DatasetV2:
        """The dataset with its Zarr archive opened lazily in storage (chunks are fetched and verified on read).

        A V1 dataset's table is downloaded (verified against the Hub's md5) while its archive's metadata is read,
        so the two round trips overlap; a V2 dataset's manifest is downloaded and verified first.
        """
        generation, data = self.ctx.wire.datasets.get_dataset(owner, name)
        v2 = generation is Generation.V2
        artifact_id = str(data.get("artifactId") or f"{owner}/{slugify(name)}")
        urn = artifact_urn("dataset", owner, name)
        source = self.ctx.token_source(urn, "read")
        ca_bundle = self.ctx.settings.ca_bundle
        max_bytes = self.ctx.settings.max_declared_bytes
        session = StorageSession(
            source, max_workers=self.ctx.settings.storage_max_concurrency, progress=False, ca_bundle=ca_bundle
        )
        from polaris.hub.storage.lazy import HubZarrStore, RemoteArchive

        remote: RemoteArchive | None = None
        try:
            paths = session.token.paths
            if v2:
                expected = str(data["zarrManifestMd5Sum"])
                manifest = _manifest_from_parquet(_read_verified(session, paths["manifest"], expected, artifact_id))
                store_url = paths["root"]
            else:
                manifest = checksum_zarr.manifest_from_wire(data.get("zarrContent")) or {}
                annotations = data.get("annotations") or {}
                has_zarr = any(bool(a.get("isPointer")) for a in annotations.values() if isinstance(a, Mapping))
                store_url = (paths.get("extension") or "") if has_zarr else ""
            cache_dir = self.ctx.cache.root / "chunks" if cache_chunks else None
            if store_url:  # the store reads through this session (and its token) from now on
                store = HubZarrStore(
                    source,
                    store_url,
                    manifest=manifest if (v2 or manifest) else None,
                    artifact=artifact_id,
                    cache_dir=cache_dir,
                    ca_bundle=ca_bundle,
                    session=session,
                )
                remote = RemoteArchive(store)  # closing it closes the session
            if v2:
                assert remote is not None
                dataset: DatasetV1 | DatasetV2 = _remote_v2(data, remote, max_bytes)
            else:
                dataset = self._open_v1(session, data, remote, artifact_id, max_bytes, store_url)
        except BaseException:
            if remote is not None:
                remote.close()
            else:
                session.close()
            raise
        logger.info("opened %s lazily (%d objects in its manifest)", artifact_id, len(manifest))
        return self._linked(dataset, owner, name)

    @staticmethod
    def _open_v1(
        session: StorageSession,
        data: Mapping[str, Any],
        remote: Any,
        artifact_id: str,
        max_bytes: int | None,
        store_url: str,
    ) -> DatasetV1:
        """A V1 dataset: its table fetched in a helper thread while this one opens (and checks) the archive."""
        from concurrent.futures import ThreadPoolExecutor

        import pandas as pd

        from polaris.artifacts import DatasetV1

        table_md5 = (data.get("tableContent") or {}).get("md5Sum")
        group = None
        with ThreadPoolExecutor(1, thread_name_prefix="polaris-table") as pool:
            table = pool.submit(_read_verified, session, session.token.paths["root"], table_md5, artifact_id)
            try:
                if remote is not None:
                    group = remote.group()
                    _check_v1_archive(group, max_bytes, artifact_id)
            except BaseException:
                table.cancel()  # leaving the pool waits for a read already running: it uses the session
                raise
            table_bytes = table.result()
        table_frame = pd.read_parquet(io.BytesIO(table_bytes))
        dataset: DatasetV1 = DatasetV1.from_wire(data, table=table_frame, zarr_root_path=store_url or None)
        if remote is not None:
            dataset.zarr_root = group
            dataset._remote = remote
        return dataset


def _check_v1_archive(group: Any, max_bytes: int | None, artifact: str | None) -> None:
    from polaris.artifacts._dataset_v2 import _check_array_limits

    _check_array_limits(group, max_bytes=max_bytes, artifact=artifact)


def _remote_v2(data: Mapping[str, Any], remote: Any, max_bytes: int | None = None) -> DatasetV2:
    from polaris.artifacts import DatasetV2
    from polaris.artifacts.dataset import ColumnAnnotation, _check_v2_layout

    dataset: DatasetV2 = DatasetV2.from_wire(data, zarr_root_path=remote.store.store_url)
    group = remote.group()
    n_rows, kinds = _check_v2_layout(group, n_rows=dataset.n_rows, max_bytes=max_bytes)
    dataset.zarr_root = group
    dataset._remote = remote
    dataset._n_rows = n_rows
    dataset._n_columns = len(kinds)
    for key, dtype in kinds.items():
        ann = dataset.annotations.get(key) or ColumnAnnotation()
        dataset.annotations[key] = ann.model_copy(update={"dtype": dtype})
    return dataset


def _read_verified(session: StorageSession, url: str, expected_md5: str | None, artifact: str) -> bytes:
    data = session.read_bytes(url)
    if expected_md5 is not None:
        checksum.verify_md5(str(expected_md5).lower(), hashlib.md5(data).hexdigest(), artifact=artifact)
    return data


def _manifest_from_parquet(data: bytes) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="polaris-manifest-") as tmp:
        path = Path(tmp) / MANIFEST_FILE
        path.write_bytes(data)
        return checksum_zarr.read_zarr_manifest(path)

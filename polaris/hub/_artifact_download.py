"""Downloads into the verified cache: a dataset's bytes streamed into a cache entry (each file checked as it
arrives), the entry turned back into a dataset, metadata kept for offline use, and the offline fallback.

Part of :class:`~polaris.hub.artifact_io.ArtifactIO` (its module docstring describes the flow).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polaris import checksum
from polaris.errors import ArtifactNotFoundError, HubConnectionError, PolarisChecksumError, StorageError
from polaris.hub._artifact_core import MANIFEST_FILE, METADATA_FILE, TABLE_FILE, ZARR_DIR, logger
from polaris.hub._artifact_remote import _linked, _RemoteDatasets
from polaris.hub.cache import CacheKey
from polaris.types import ChecksumStrategy, artifact_urn, slugify

if TYPE_CHECKING:
    from polaris.artifacts import DatasetV1, DatasetV2

__all__: list[str] = []


class _DatasetDownloads(_RemoteDatasets):
    """Getting datasets through the cache (a part of :class:`~polaris.hub.artifact_io.ArtifactIO`)."""

    def _cached_metadata(self, kind: str, artifact_id: str) -> tuple[dict[str, Any], Path] | None:
        """The most recently used verified cache entry of an artifact that passes the cache's check (offline use)."""
        for info in self.cache.entries():  # most recently used first
            if info.kind != kind or info.artifact_id != artifact_id or not info.verified:
                continue
            if not self.cache.verify(info.key, full=False).ok:
                logger.warning("the cached copy of %s %s is damaged; not using it", kind, artifact_id)
                continue
            meta = info.path / METADATA_FILE
            if not meta.is_file():
                continue
            data = json.loads(meta.read_text(encoding="utf-8"))
            return data, info.path
        return None

    # ------------------------------------------------------------------ datasets
    def get_dataset(
        self, owner: str, name: str, verify_checksum: ChecksumStrategy, *, lazy: bool = False
    ) -> DatasetV1 | DatasetV2:
        """V1 first, V2 when the Hub has no V1 dataset of that name."""
        if lazy:
            return self.open_remote_dataset(owner, name)
        try:
            data = self.wire.get_dataset_v1(owner, name)
        except ArtifactNotFoundError:
            data = self.wire.get_dataset_v2(owner, name)
            return _linked(self._load_v2(owner, name, data, verify_checksum), self, owner, name)
        except HubConnectionError:
            offline = self._offline("dataset", owner, name)
            if offline is None:
                raise
            data, entry = offline
            if "zarrManifestMd5Sum" in data and "md5Sum" not in data:
                return self._v2_from_entry(data, entry)
            return self._v1_from_entry(data, entry)
        return _linked(self._load_v1(owner, name, data, verify_checksum), self, owner, name)

    def _offline(self, kind: str, owner: str, name: str) -> tuple[dict[str, Any], Path] | None:
        found = self._cached_metadata(kind, f"{owner}/{slugify(name)}")
        if found is not None:
            logger.warning("The Hub cannot be reached; using the cached copy of %s/%s", owner, name)
        return found

    def _load_v1(
        self, owner: str, name: str, data: dict[str, Any], verify: ChecksumStrategy, *, kind: str = "dataset"
    ) -> DatasetV1:
        artifact_id = str(data.get("artifactId") or f"{owner}/{slugify(name)}")
        md5 = str(data["md5Sum"]) if kind == "dataset" else str(data.get("maskedMd5Sum") or data["md5Sum"])
        table_md5 = (data.get("tableContent") or {}).get("md5Sum")
        annotations = data.get("annotations") or {}
        has_zarr = any(bool(a.get("isPointer")) for a in annotations.values() if isinstance(a, Mapping))
        manifest = checksum.manifest_from_wire(data.get("zarrContent"))
        # The dataset URN is used for competition datasets too, as the Hub expects.
        urn = artifact_urn("dataset", owner, name)

        streamed: dict[str, tuple[str, int]] = {}
        filled: list[Any] = []  # the table this call's fill read (and verified): the entry holds the same file

        def fill(tmp: Path) -> dict[str, tuple[str, int]]:
            tmp.mkdir(parents=True, exist_ok=True)  # may hold what an interrupted download left
            streamed.clear()
            with self.storage(urn, "read") as session:
                paths = session.token.paths
                session.download_file(paths["root"], tmp / TABLE_FILE, expected_md5=table_md5, artifact=artifact_id)
                if has_zarr:
                    extension = paths.get("extension")
                    if not extension:
                        raise StorageError(
                            f"the Hub gave no Zarr location for {artifact_id}, which has pointer columns"
                        )
                    session.download_zarr(
                        extension, tmp / ZARR_DIR, manifest=manifest, artifact=artifact_id, digests=streamed
                    )
            dataset = self._v1_from_entry(data, tmp, kind=kind)
            filled[:] = [dataset.table]
            # Pointer columns included: the archive's digest comes from the md5s computed while it streamed to
            # disk (the same files, so the same value as re-reading them), the table's from the table.
            local = tmp / ZARR_DIR
            on_disk = {f.relative_to(local).as_posix() for f in local.rglob("*") if f.is_file()} if has_zarr else set()
            if full_check and has_zarr and on_disk == set(streamed):
                tree = checksum.zarr_tree_digest_from_entries((p, m, n) for p, (m, n) in streamed.items())
                checksum.verify_md5(md5, checksum.dataset_md5(dataset.table, tree), artifact=artifact_id)
            elif full_check:
                dataset.verify_checksum(md5)
            (tmp / METADATA_FILE).write_text(json.dumps(data), encoding="utf-8")
            # md5s computed while the files streamed in (and checked against the Hub's): the cache records them
            known = {f"{ZARR_DIR}/{rel}": digest for rel, digest in streamed.items()}
            if table_md5 is not None:
                known[TABLE_FILE] = (str(table_md5).lower(), (tmp / TABLE_FILE).stat().st_size)
            return known

        full_check = verify == "verify" or checksum.should_verify(verify, has_zarr=has_zarr, version=1)
        # Verified = every byte was checked against a checksum of the Hub: the whole dataset, or each file.
        files_checked = table_md5 is not None and (not has_zarr or manifest is not None)
        filled.clear()
        entry = self.cache.fetch(
            CacheKey(kind, artifact_id, md5), fill, verified=full_check or files_checked, resume=True
        )
        # Filled just now: the table parsed during the fill is the one in the entry (not read a second time).
        return self._v1_from_entry(data, entry, kind=kind, table=filled[0] if filled else None)

    @staticmethod
    def _v1_from_entry(data: Mapping[str, Any], entry: Path, *, kind: str = "dataset", table: Any = None) -> DatasetV1:
        import pandas as pd

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
        cls = CompetitionDataset if kind == "competitionDataset" else DatasetV1
        dataset: DatasetV1 = cls.from_wire(
            data, table=table, zarr_root_path=str(zarr_path) if zarr_path.is_dir() else None
        )
        return dataset

    def _load_v2(self, owner: str, name: str, data: dict[str, Any], verify: ChecksumStrategy) -> DatasetV2:
        artifact_id = str(data.get("artifactId") or f"{owner}/{slugify(name)}")
        manifest_md5 = str(data["zarrManifestMd5Sum"])
        urn = artifact_urn("dataset", owner, name)

        def fill(tmp: Path) -> dict[str, tuple[str, int]]:
            tmp.mkdir(parents=True, exist_ok=True)  # may hold what an interrupted download left
            streamed: dict[str, tuple[str, int]] = {}
            with self.storage(urn, "read") as session:
                paths = session.token.paths
                expected = None if verify == "ignore" else manifest_md5
                session.download_file(
                    paths["manifest"], tmp / MANIFEST_FILE, expected_md5=expected, artifact=artifact_id
                )
                manifest = None if verify == "ignore" else checksum.read_zarr_manifest(tmp / MANIFEST_FILE)
                session.download_zarr(
                    paths["root"], tmp / ZARR_DIR, manifest=manifest, artifact=artifact_id, digests=streamed
                )
            self._v2_from_entry(data, tmp)  # validates the archive's layout before it is cached
            (tmp / METADATA_FILE).write_text(json.dumps(data), encoding="utf-8")
            # md5s computed while the files streamed in (and checked against the Hub's): the cache records them
            known = {f"{ZARR_DIR}/{rel}": digest for rel, digest in streamed.items()}
            if expected is not None:
                known[MANIFEST_FILE] = (expected.lower(), (tmp / MANIFEST_FILE).stat().st_size)
            return known

        key = CacheKey("dataset", artifact_id, manifest_md5)
        entry = self.cache.fetch(key, fill, verified=verify != "ignore", resume=True)
        return self._v2_from_entry(data, entry)

    def _v2_from_entry(self, data: Mapping[str, Any], entry: Path) -> DatasetV2:
        from polaris.artifacts import DatasetV2

        dataset: DatasetV2 = DatasetV2.from_wire(
            data, zarr_root_path=str(entry / ZARR_DIR), max_declared_bytes=self.settings.max_declared_bytes
        )
        return dataset

    def _remember(self, kind: str, artifact_id: str, data: Mapping[str, Any]) -> None:
        """Keep the metadata of a metadata-only artifact so it can be loaded offline later."""
        digest = str(data.get("md5Sum") or "latest")
        try:

            def fill(tmp: Path) -> None:
                tmp.mkdir(parents=True)
                (tmp / METADATA_FILE).write_text(json.dumps(dict(data)), encoding="utf-8")

            self.cache.fetch(CacheKey(kind, artifact_id, digest), fill)
        except OSError as exc:  # the cache is a convenience; never fail a download over it
            logger.debug("could not cache %s %s: %s", kind, artifact_id, exc)

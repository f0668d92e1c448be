"""Lazy (remote) datasets: the Zarr archive opened in the Hub's storage, chunks fetched and verified when read.

Also the link that lets a dataset got from the Hub be opened remotely again. Part of
:class:`~polaris.hub.artifact_io.ArtifactIO`; re-exported by :mod:`polaris.hub.artifact_io`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from polaris import checksum
from polaris.hub._artifact_core import MANIFEST_FILE, _ArtifactIOBase, logger
from polaris.hub.storage import StorageSession, StorageToken
from polaris.types import artifact_urn, slugify

if TYPE_CHECKING:
    from polaris.artifacts import DatasetV1, DatasetV2

__all__: list[str] = []


class _HubLink:
    """How a dataset got from the Hub can be opened remotely again; dropped when the dataset is pickled."""

    def __init__(self, io: _RemoteDatasets, owner: str, name: str) -> None:
        self._io = io
        self.owner = owner
        self.name = name

    def open(self, *, cache_chunks: bool = True) -> DatasetV1 | DatasetV2:
        return self._io.open_remote_dataset(self.owner, self.name, cache_chunks=cache_chunks)

    def __reduce__(self) -> Any:
        return (_no_link, ())


def _no_link() -> None:
    return None


_D = TypeVar("_D")


def _linked(dataset: _D, io: _RemoteDatasets, owner: str, name: str) -> _D:
    dataset._hub_link = _HubLink(io, owner, name)  # type: ignore[attr-defined]
    return dataset


def _manifest_from_parquet(data: bytes) -> dict[str, str]:
    import tempfile as _tempfile

    with _tempfile.TemporaryDirectory(prefix="polaris-manifest-") as tmp:
        path = Path(tmp) / MANIFEST_FILE
        path.write_bytes(data)
        return checksum.read_zarr_manifest(path)


class _RemoteDatasets(_ArtifactIOBase):
    """Opening datasets lazily in storage (a part of :class:`~polaris.hub.artifact_io.ArtifactIO`)."""

    # ------------------------------------------------------------------ lazy (remote) datasets
    def open_remote_dataset(self, owner: str, name: str, *, cache_chunks: bool = True) -> DatasetV1 | DatasetV2:
        """The dataset with its Zarr archive opened lazily in storage (chunks are fetched and verified on read).

        A V1 dataset's table is downloaded (verified against the Hub's md5); a V2 dataset's manifest too.
        """
        version, data = self.wire.get_dataset(owner, name)  # V1, else V2 (the generation that answered goes first)
        v2 = version == 2
        artifact_id = str(data.get("artifactId") or f"{owner}/{slugify(name)}")
        urn = artifact_urn("dataset", owner, name)
        source = self.token_source(urn, "read")
        session = StorageSession(
            source, max_workers=self.settings.storage_max_concurrency, progress=False, ca_bundle=self.settings.ca_bundle
        )
        adopted = False
        try:
            paths = session.token.paths
            if v2:
                expected = str(data["zarrManifestMd5Sum"])
                manifest_bytes = self._read_verified(session, paths["manifest"], expected, artifact_id)
                manifest = _manifest_from_parquet(manifest_bytes)
                store_url = paths["root"]
            else:
                manifest = {e["path"]: e["md5sum"] for e in data.get("zarrContent") or []}
                table_md5 = (data.get("tableContent") or {}).get("md5Sum")
                table_bytes = self._read_verified(session, paths["root"], table_md5, artifact_id)
                annotations = data.get("annotations") or {}
                has_zarr = any(bool(a.get("isPointer")) for a in annotations.values() if isinstance(a, Mapping))
                store_url = (paths.get("extension") or "") if has_zarr else ""
            from polaris.hub.storage.lazy import HubZarrStore, RemoteArchive

            cache_dir = self.cache.root / "chunks" if cache_chunks else None
            store = None
            if store_url:  # the store reads through this session (and its token) from now on
                store = HubZarrStore(
                    source,
                    store_url,
                    manifest=manifest if (v2 or manifest) else None,
                    artifact=artifact_id,
                    cache_dir=cache_dir,
                    ca_bundle=self.settings.ca_bundle,
                    session=session,
                )
                adopted = True
        finally:
            if not adopted:
                session.close()

        dataset: DatasetV1 | DatasetV2
        if v2:
            assert store is not None
            remote = RemoteArchive(store)
            dataset = self._remote_v2(data, remote)
        else:
            import io

            import pandas as pd

            from polaris.artifacts import DatasetV1

            table = pd.read_parquet(io.BytesIO(table_bytes))
            dataset = DatasetV1.from_wire(data, table=table, zarr_root_path=store_url or None)
            if store is not None:
                v1_remote = RemoteArchive(store)
                dataset.zarr_root = v1_remote.group()
                dataset._remote = v1_remote
        logger.info("opened %s lazily (%d objects in its manifest)", artifact_id, len(manifest))
        return _linked(dataset, self, owner, name)

    @staticmethod
    def _remote_v2(data: Mapping[str, Any], remote: Any) -> DatasetV2:
        from polaris.artifacts import DatasetV2
        from polaris.artifacts.dataset import ColumnAnnotation, _check_v2_layout

        dataset: DatasetV2 = DatasetV2.from_wire(data, zarr_root_path=remote.store.store_url)
        group = remote.group()
        n_rows, kinds = _check_v2_layout(group)
        dataset.zarr_root = group
        dataset._remote = remote
        dataset._n_rows = n_rows
        dataset._n_columns = len(kinds)
        for key, dtype in kinds.items():
            ann = dataset.annotations.get(key) or ColumnAnnotation()
            dataset.annotations[key] = ann.model_copy(update={"dtype": dtype})
        return dataset

    @staticmethod
    def _read_verified(session: StorageSession, url: str, expected_md5: str | None, artifact: str) -> bytes:
        import hashlib

        data = session.read_bytes(url)
        if expected_md5 is not None:
            checksum.verify_md5(str(expected_md5).lower(), hashlib.md5(data).hexdigest(), artifact=artifact)
        return data

    def token_source(self, resource: str, scope: str) -> Any:
        """A :class:`~polaris.hub.storage.lazy.LocalTokenSource` for one artifact (never pickled)."""
        from polaris.hub.storage.lazy import LocalTokenSource

        def fetch() -> StorageToken:
            return StorageToken.from_response(dict(self._storage_token(resource, scope)))

        return LocalTokenSource(fetch)

"""Getting and uploading artifacts: Hub metadata (through :mod:`polaris.hub._wire`) plus their bytes in object storage.

The flow of every download is the same:

1. read the artifact's metadata from the Hub (its checksums included);
2. look the content up in the content-addressed :class:`~polaris.hub.cache.DownloadCache`
   (key = artifact id + the Hub's checksum), so an unchanged artifact is never transferred twice;
3. on a miss, take a read-scoped storage token and stream the objects into ``<entry>.incomplete``, verifying
   every file (and every Zarr chunk, against the Hub's manifest) as it arrives; verify the whole dataset's
   checksum when the strategy says so; only then rename the entry into place;
4. build the artifact model from the metadata and the local files.

If the Hub cannot be reached, the most recent verified copy in the cache is used (logged as a warning).

Uploads go the other way: client-side checks first (licence, owner, ...), then the metadata ``PUT``, then a
write-scoped storage token and the objects. An interrupted upload can be completed with ``if_exists="skip"``.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from polaris import checksum
from polaris.errors import (
    ArtifactExistsError,
    ArtifactNotFoundError,
    ClientClosedError,
    HubConnectionError,
    InvalidArtifactError,
    PartialUploadError,
    PolarisChecksumError,
    StorageError,
)
from polaris.hub.cache import CacheKey, DownloadCache
from polaris.hub.storage import StagedZarr, StorageSession, StorageToken, stage_zarr
from polaris.types import ChecksumStrategy, HubOwner, ZarrConflictResolution, artifact_urn, slugify

if TYPE_CHECKING:
    from polaris.artifacts import (
        BenchmarkResults,
        BenchmarkSpecification,
        CompetitionResults,
        CompetitionSpecification,
        DatasetV1,
        DatasetV2,
    )
    from polaris.artifacts.competition import CompetitionPredictions
    from polaris.hub._wire import Wire
    from polaris.hub.settings import PolarisHubSettings

__all__ = ["ArtifactIO"]


class _HubLink:
    """How a dataset got from the Hub can be opened remotely again; dropped when the dataset is pickled."""

    def __init__(self, io: ArtifactIO, owner: str, name: str) -> None:
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


def _linked(dataset: _D, io: ArtifactIO, owner: str, name: str) -> _D:
    dataset._hub_link = _HubLink(io, owner, name)  # type: ignore[attr-defined]
    return dataset


def _manifest_from_parquet(data: bytes) -> dict[str, str]:
    import tempfile as _tempfile

    with _tempfile.TemporaryDirectory(prefix="polaris-manifest-") as tmp:
        path = Path(tmp) / MANIFEST_FILE
        path.write_bytes(data)
        return checksum.read_zarr_manifest(path)


logger = logging.getLogger(__name__)

TABLE_FILE = "table.parquet"
ZARR_DIR = "data.zarr"
MANIFEST_FILE = "zarr_manifest.parquet"
METADATA_FILE = "metadata.json"

StorageTokenSource = Callable[[str, str], Mapping[str, Any]]


@dataclass
class _UploadPlan:
    """Everything a dataset upload sends, prepared locally before the first request.

    ``files``: (token path key, local file, md5) of standalone objects; ``zarr``: (token path key, staged archive).
    Object names are storage keys relative to the artifact's folder (``table.parquet``, ``data.zarr/x/0``).
    """

    owner: str
    name: str
    slug: str
    put: Callable[[], dict[str, Any]]
    files: list[tuple[str, Path, str]]
    zarr: tuple[str, StagedZarr] | None
    versioned: bool = False  # a new version: the Hub answers its slug, which names the storage target

    def file_names(self, paths: Mapping[str, str]) -> set[str]:
        from polaris.hub.storage import parse_url

        return {PurePosixPath(parse_url(paths[key]).key).name for key, _, _ in self.files}

    def zarr_prefix(self, paths: Mapping[str, str]) -> str:
        from polaris.hub.storage import parse_url

        if self.zarr is None or not paths.get(self.zarr[0]):
            return ""
        return PurePosixPath(parse_url(paths[self.zarr[0]]).key).name + "/"

    def objects(self, paths: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
        """name -> (storage location, md5) of every object of the upload."""
        from polaris.hub.storage import parse_url

        found: dict[str, tuple[Any, str]] = {}
        for key, _, md5 in self.files:
            loc = parse_url(paths[key])
            found[PurePosixPath(loc.key).name] = (loc, md5)
        if self.zarr is not None and paths.get(self.zarr[0]):
            store = parse_url(paths[self.zarr[0]])
            prefix = self.zarr_prefix(paths)
            for entry in self.zarr[1].entries():
                found[prefix + entry.path] = (store.child(entry.path), entry.md5sum)
        return found

    def all_names(self, paths: Mapping[str, str]) -> list[str]:
        return sorted(self.objects(paths))


def owner_slug(owner: str | HubOwner) -> str:
    return owner.slug if isinstance(owner, HubOwner) else str(owner)


class ArtifactIO:
    """Artifact transfers for one client.

    Args:
        wire: the client's :class:`~polaris.hub._wire.Wire` (all Hub calls go through it).
        storage_token: ``(resource URN, scope) -> storage-token answer``; renews the Hub token as needed.
        settings: the client's settings (hub_url for links, ca_bundle for storage TLS).
        progress: show byte-level progress bars during transfers.
    """

    def __init__(
        self,
        wire: Wire,
        storage_token: StorageTokenSource,
        settings: PolarisHubSettings,
        *,
        progress: bool = True,
        cache: DownloadCache | None = None,
    ) -> None:
        self.wire = wire
        self._storage_token = storage_token
        self.settings = settings
        self.progress = progress
        self.cache = cache if cache is not None else DownloadCache()

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def storage(
        self, resource: str, scope: str, *, timeout: tuple[float, float] | None = None
    ) -> Iterator[StorageSession]:
        """A storage session for one artifact; the token is fetched lazily and renewed when it expires."""

        def provider() -> StorageToken:
            return StorageToken.from_response(dict(self._storage_token(resource, scope)))

        ca_bundle = self.settings.ca_bundle
        with StorageSession(provider, progress=self.progress, ca_bundle=ca_bundle, timeout=timeout) as session:
            yield session

    def web_url(self, path: str) -> str:
        return self.settings.hub_url.rstrip("/") + "/" + path.lstrip("/")

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
        session = StorageSession(source, progress=False, ca_bundle=self.settings.ca_bundle)
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
        manifest = {e["path"]: e["md5sum"] for e in data.get("zarrContent") or []} or None
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

    @staticmethod
    def _v2_from_entry(data: Mapping[str, Any], entry: Path) -> DatasetV2:
        from polaris.artifacts import DatasetV2

        dataset: DatasetV2 = DatasetV2.from_wire(data, zarr_root_path=str(entry / ZARR_DIR))
        return dataset

    def upload_dataset(
        self,
        dataset: DatasetV1 | DatasetV2,
        *,
        access: str,
        owner: str | HubOwner | None,
        if_exists: ZarrConflictResolution,
        timeout: tuple[float, float] | None = None,
        parent_artifact_id: str | None = None,
    ) -> dict[str, Any]:
        """Check and prepare everything locally (nothing is sent if that fails), then metadata and bytes.

        ``if_exists="skip"`` compares first: with the dataset already on the Hub, every object is HEADed and a
        stored object whose md5 differs from ours stops the upload before the metadata is touched; objects stored
        with our md5 are not sent again. With ``parent_artifact_id`` the upload is a new version: the metadata goes
        first, and the slug the Hub answers names the storage target.
        """
        from polaris.artifacts import DatasetV2

        if owner is not None:
            dataset.owner = HubOwner.normalize(owner)
        dataset.access = access  # type: ignore[assignment]
        if parent_artifact_id is not None:
            dataset.parent_artifact_id = parent_artifact_id
        dataset.check_uploadable()
        from polaris.hub.storage.session import prewarm

        prewarm()  # the S3 client's setup overlaps with the checksums below
        assert dataset.owner is not None and dataset.name
        with tempfile.TemporaryDirectory(prefix="polaris-upload-") as tmp:
            if isinstance(dataset, DatasetV2):
                plan = self._prepare_v2(dataset, Path(tmp))
            else:
                plan = self._prepare_v1(dataset, Path(tmp))
            # Requests start here.
            if if_exists == "raise" and not plan.versioned:
                self._refuse_existing(dataset.owner.slug, dataset.name, v2=isinstance(dataset, DatasetV2))
            stored = self._send(plan, if_exists, timeout)
        if plan.versioned:
            self._after_version_upload(dataset, stored, plan.slug)
        logger.info("Dataset uploaded: %s", self.web_url(f"datasets/{plan.owner}/{plan.slug}"))
        return stored

    def _refuse_existing(self, owner: str, name: str, *, v2: bool) -> None:
        """``if_exists="raise"``: refuse before anything is sent (metadata included) when the dataset exists."""
        get = self.wire.get_dataset_v2 if v2 else self.wire.get_dataset_v1
        try:
            get(owner, slugify(name) if not v2 else name)
        except ArtifactNotFoundError:
            return
        raise ArtifactExistsError(f"dataset {owner}/{slugify(name)} already exists on the Hub; nothing was sent")

    def _prepare_v1(self, dataset: DatasetV1, tmp: Path) -> _UploadPlan:
        """Write the Parquet table, stage the Zarr archive, compute every checksum from what will be read back."""
        import pandas as pd

        assert dataset.owner is not None and dataset.name and dataset.table is not None
        owner, slug = dataset.owner.slug, slugify(dataset.name)
        table_path = tmp / TABLE_FILE
        try:
            dataset.table.to_parquet(table_path)
            read_back = pd.read_parquet(table_path)
        except Exception as exc:  # pyarrow refuses a column: say which, before anything is sent
            raise InvalidArtifactError(
                f"the table of {owner}/{slug} cannot be stored as Parquet ({type(exc).__name__}: {exc})",
                hint="Convert the column named in the message to str, a number, or a pointer column.",
            ) from exc
        table_md5, table_size = checksum.file_md5(table_path)
        staged = None
        digest = None
        if dataset.uses_zarr:
            assert dataset.zarr_root_path is not None
            staged = stage_zarr(Path(dataset.zarr_root_path), tmp / "zarr-staging")
            digest = checksum.zarr_tree_digest_from_entries(staged.entries())
        md5 = checksum.dataset_md5(read_back, digest)
        if md5 != checksum.dataset_md5(dataset.table, digest):
            logger.info(
                "the Parquet round trip changes the checksum of %s/%s; using what will be read back", owner, slug
            )
        dataset.md5sum = md5
        body = dataset.to_wire(
            table_content={"size": table_size, "fileType": "parquet", "md5Sum": table_md5},
            zarr_content=staged.entries() if staged is not None else None,
        )
        versioned = dataset.parent_artifact_id is not None
        if versioned:
            body.update(dataset.versioning_wire())
        return _UploadPlan(
            owner=owner,
            name=dataset.name,
            slug=slug,
            put=lambda: self.wire.put_dataset_v1(owner, slug, body),
            files=[("root", table_path, table_md5)],
            zarr=("extension", staged) if staged is not None else None,
            versioned=versioned,
        )

    def _prepare_v2(self, dataset: DatasetV2, tmp: Path) -> _UploadPlan:
        assert dataset.owner is not None and dataset.name
        owner, name = dataset.owner.slug, dataset.name
        staged = stage_zarr(Path(dataset.zarr_root_path), tmp / "zarr-staging")
        manifest_path = tmp / MANIFEST_FILE
        manifest_md5 = checksum.write_zarr_manifest_entries(staged.entries(), manifest_path)
        dataset.zarr_manifest_md5sum = manifest_md5
        body = dataset.to_wire()
        versioned = dataset.parent_artifact_id is not None
        if versioned:
            body.update(dataset.versioning_wire())
        return _UploadPlan(
            owner=owner,
            name=name,
            slug=slugify(name),
            put=lambda: self.wire.put_dataset_v2(owner, name, body),
            files=[("manifest", manifest_path, manifest_md5)],
            zarr=("root", staged),
            versioned=versioned,
        )

    def _send(
        self, plan: _UploadPlan, if_exists: ZarrConflictResolution, timeout: tuple[float, float] | None
    ) -> dict[str, Any]:
        from polaris.errors import ObjectConflictError, PolarisHubError
        from polaris.hub.storage import parse_url

        stored_first: dict[str, Any] | None = None
        if plan.versioned:  # the new version's slug is the Hub's answer, so the metadata goes first
            stored_first = plan.put()
            plan.slug = self._answered_slug(stored_first, plan.slug)
        urn = artifact_urn("dataset", plan.owner, plan.slug if plan.versioned else plan.name)
        resume_hint = (
            f'Complete it with client.upload_dataset(dataset, if_exists="skip") for the same dataset '
            f"({plan.owner}/{plan.slug}); it sends only what is missing (CLI: the same `polaris datasets upload` "
            "command with --resume)."
        )
        with self.storage(urn, "write", timeout=timeout) as session:
            only: set[str] | None = None
            skip_files: set[str] = set()
            if if_exists == "skip":
                try:
                    paths = session.token.paths  # exists only when the dataset is already on the Hub
                except (PolarisHubError, StorageError) as exc:
                    logger.debug("no storage token before the metadata PUT (%s); a new dataset", exc)
                    paths = None
                if paths is not None:
                    objects = plan.objects(paths)
                    present, _missing, differing = session.compare(objects)
                    if differing:
                        raise ObjectConflictError(
                            f"{len(differing)} stored object(s) of {plan.owner}/{plan.slug} differ from yours: "
                            f"{', '.join(differing[:5])}{' ...' if len(differing) > 5 else ''}; nothing was changed "
                            "on the Hub",
                            keys=differing,
                        )
                    skip_files = {n for n in present if n in plan.file_names(paths)}
                    if plan.zarr is not None:
                        prefix = plan.zarr_prefix(paths)
                        only = {n[len(prefix) :] for n in objects if n.startswith(prefix) and n not in present}
            stored = plan.put() if stored_first is None else stored_first
            done: list[str] = []
            try:
                paths = session.token.paths
                for key, local, _md5 in plan.files:
                    name = PurePosixPath(parse_url(paths[key]).key).name
                    if name not in skip_files:
                        session.upload_file(paths[key], local, if_exists=if_exists)
                    done.append(name)
                if plan.zarr is not None:
                    key, staged = plan.zarr
                    location = paths.get(key)
                    if not location:
                        raise StorageError(f"the Hub gave no Zarr location for {plan.owner}/{plan.slug}")
                    session.upload_zarr(staged.root, location, if_exists=if_exists, staged=staged, only=only)
            except (ArtifactExistsError, ClientClosedError):
                raise
            except PartialUploadError as exc:
                prefix = plan.zarr_prefix(session.token.paths)
                raise PartialUploadError(
                    f"the upload of {plan.owner}/{plan.slug} stopped: {exc.__cause__ or exc.message}",
                    done=exc.done + len(done),
                    failed=exc.failed,
                    missing=[prefix + m for m in exc.missing],
                    hint=resume_hint,
                ) from exc
            except (StorageError, PolarisHubError) as exc:
                missing = plan.all_names(session.token.paths) if not isinstance(exc, PolarisHubError) else []
                raise PartialUploadError(
                    f"the metadata of {plan.owner}/{plan.slug} is on the Hub but its data did not upload ({exc})",
                    done=len(done),
                    failed=1,
                    missing=[m for m in missing if m not in done],
                    hint=resume_hint,
                ) from exc
        return stored

    @staticmethod
    def _answered_slug(stored: Mapping[str, Any], default: str) -> str:
        """The slug the Hub stored the upload under (0.12: a new version gets a new slug)."""
        slug = stored.get("slug")
        return str(slug) if isinstance(slug, str) and slug else default

    @staticmethod
    def _after_version_upload(artifact: Any, stored: Mapping[str, Any], slug: str) -> None:
        version = stored.get("artifactVersion")
        if isinstance(version, int):
            artifact.artifact_version = version
        logger.debug("the Hub stored the new version as %s", slug)

    # ------------------------------------------------------------------ benchmarks and results
    def get_benchmark(self, owner: str, name: str, verify_checksum: ChecksumStrategy) -> BenchmarkSpecification:
        from polaris.artifacts import BenchmarkSpecification, DatasetV1

        try:
            data = self.wire.get_benchmark(owner, name)
        except HubConnectionError:
            offline = self._offline("benchmark", owner, name)
            if offline is None:
                raise
            data = offline[0]
        ref = data["dataset"]
        dataset = self.get_dataset(owner_slug(ref["owner"]["slug"]), str(ref["name"]), verify_checksum)
        if not isinstance(dataset, DatasetV1):
            raise InvalidArtifactError(
                f"benchmark {owner}/{name} is built on a V2 dataset, which this client cannot use"
            )
        benchmark: BenchmarkSpecification = BenchmarkSpecification.from_wire(
            {k: v for k, v in data.items() if k != "dataset"}, dataset=dataset
        )
        if checksum.should_verify(verify_checksum, has_zarr=dataset.uses_zarr, version=1) and data.get("md5Sum"):
            benchmark.verify_checksum(str(data["md5Sum"]))
        self._remember("benchmark", str(data.get("artifactId") or f"{owner}/{slugify(name)}"), data)
        return benchmark

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

    def upload_benchmark(
        self, benchmark: BenchmarkSpecification, *, access: str, owner: str | HubOwner | None
    ) -> dict[str, Any]:
        from polaris.artifacts import DatasetV1

        if owner is not None:
            benchmark.owner = HubOwner.normalize(owner)
        benchmark.access = access  # type: ignore[assignment]
        benchmark.check_uploadable()
        assert benchmark.owner is not None and benchmark.name
        dataset = benchmark.dataset
        raw_owner = getattr(dataset, "owner", None)
        ds_owner = owner_slug(raw_owner) if raw_owner is not None else None
        ds_name = getattr(dataset, "name", None)
        if ds_owner is None or not ds_name:
            raise InvalidArtifactError("benchmark.dataset must name an uploaded dataset (owner and name)")
        try:
            self.wire.get_dataset_v1(ds_owner, ds_name)
        except ArtifactNotFoundError as exc:
            raise InvalidArtifactError(
                f"the benchmark's dataset {ds_owner}/{ds_name} is not on the Hub (or you cannot see it)",
                hint="Upload the dataset first with client.upload_dataset(...), then the benchmark.",
            ) from exc
        if isinstance(dataset, DatasetV1) and dataset.table is not None:
            benchmark.md5sum = benchmark.compute_md5sum()
        stored = self.wire.put_benchmark(benchmark.owner.slug, benchmark.name, benchmark.to_wire())
        logger.info("Benchmark uploaded: %s", self.web_url(f"benchmarks/{benchmark.owner.slug}/{benchmark.name}"))
        return stored

    def upload_results(
        self, results: BenchmarkResults, *, access: str, owner: str | HubOwner | None
    ) -> tuple[BenchmarkResults, str | None]:
        if owner is not None:
            results.owner = HubOwner.normalize(owner)
        results.access = access  # type: ignore[assignment]
        if not results.name:
            results.name = f"results-{time.strftime('%Y%m%d-%H%M%S')}"
        if results.benchmark_artifact_id is None:
            raise InvalidArtifactError("results.benchmark_artifact_id is required (results come from evaluate())")
        body = results.to_wire()
        stored, location = self.wire.create_result(body)
        if results.owner is None and isinstance(stored.get("owner"), Mapping):
            results.owner = HubOwner.normalize(stored["owner"])
        url = self.web_url(location) if location else None
        if url:
            logger.info("Results uploaded; see them at %s", url)
        return results, url

    # ------------------------------------------------------------------ competitions
    def get_competition(self, owner: str, name: str, verify_checksum: ChecksumStrategy) -> CompetitionSpecification:
        from polaris.artifacts import CompetitionSpecification

        data = self.wire.get_competition(owner, name)
        ref = data["dataset"]
        ds_owner, ds_name = owner_slug(ref["owner"]["slug"]), str(ref["name"])
        ds_data = self.wire.get_competition_dataset(ds_owner, ds_name)
        dataset = self._load_v1(ds_owner, ds_name, ds_data, verify_checksum, kind="competitionDataset")
        competition: CompetitionSpecification = CompetitionSpecification.from_wire(
            {k: v for k, v in data.items() if k != "dataset"}, dataset=dataset
        )
        return competition

    def evaluate_competition(
        self, competition: CompetitionSpecification, predictions: CompetitionPredictions | Any
    ) -> CompetitionResults:
        from polaris.artifacts import CompetitionResults
        from polaris.artifacts.competition import CompetitionPredictions

        if not isinstance(predictions, CompetitionPredictions):
            predictions = CompetitionPredictions(
                predictions=predictions,
                target_labels=list(competition.target_cols),
                test_set_labels=competition.test_set_labels,
                test_set_sizes=competition.test_set_sizes,
            )
        if competition.owner is None or not competition.name:
            raise InvalidArtifactError("the competition needs an owner and a name (load it with get_competition)")
        owner = competition.owner.slug
        answer = self.wire.evaluate_competition(owner, competition.name, predictions.to_wire())
        result: CompetitionResults = CompetitionResults(
            results=answer["results"],
            name=predictions.name,
            competition_name=competition.name,
            competition_owner=competition.owner,
        )
        logger.info("Competition scored: %s", self.web_url(f"v2/competition/{owner}/{competition.name}/{answer['id']}"))
        return result

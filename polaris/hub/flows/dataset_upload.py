"""Dataset uploads: everything prepared and checked locally first, then the metadata and the objects.

Also how an interrupted upload is completed (``if_exists="skip"``) and how a new version is sent: with
``parent_artifact_id`` the metadata goes first and the slug the Hub answers names the storage target.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from polaris import checksum_md5, checksum_rows, checksum_zarr
from polaris.errors import (
    ArtifactExistsError,
    ArtifactNotFoundError,
    ClientClosedError,
    InvalidArtifactError,
    PartialUploadError,
    StorageError,
)
from polaris.hub.flows.context import MANIFEST_FILE, TABLE_FILE, FlowContext, answered_slug, record_version
from polaris.hub.storage import StagedZarr, stage_zarr
from polaris.types import HubOwner, ZarrConflictResolution, artifact_urn, slugify

if TYPE_CHECKING:
    from polaris.artifacts import DatasetV1, DatasetV2

__all__ = ["DatasetUpload"]

logger = logging.getLogger(__name__)


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


class DatasetUpload:
    """Uploading datasets (V1 and V2) for one client."""

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    def upload(
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
            record_version(dataset, stored, plan.slug)
        logger.info("Dataset uploaded: %s", self.ctx.web_url(f"datasets/{plan.owner}/{plan.slug}"))
        return stored

    def _refuse_existing(self, owner: str, name: str, *, v2: bool) -> None:
        """``if_exists="raise"``: refuse before anything is sent (metadata included) when the dataset exists."""
        get = self.ctx.wire.datasets.get_dataset_v2 if v2 else self.ctx.wire.datasets.get_dataset_v1
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
        table_md5, table_size = checksum_md5.file_md5(table_path)
        staged = None
        digest = None
        if dataset.uses_zarr:
            assert dataset.zarr_root_path is not None
            staged = stage_zarr(Path(dataset.zarr_root_path), tmp / "zarr-staging")
            digest = checksum_zarr.zarr_tree_digest_from_entries(staged.entries())
        md5 = checksum_rows.dataset_md5(read_back, digest)
        if md5 != checksum_rows.dataset_md5(dataset.table, digest):
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
            put=lambda: self.ctx.wire.datasets.put_dataset_v1(owner, slug, body),
            files=[("root", table_path, table_md5)],
            zarr=("extension", staged) if staged is not None else None,
            versioned=versioned,
        )

    def _prepare_v2(self, dataset: DatasetV2, tmp: Path) -> _UploadPlan:
        assert dataset.owner is not None and dataset.name
        owner, name = dataset.owner.slug, dataset.name
        staged = stage_zarr(Path(dataset.zarr_root_path), tmp / "zarr-staging")
        manifest_path = tmp / MANIFEST_FILE
        manifest_md5 = checksum_zarr.write_zarr_manifest_entries(staged.entries(), manifest_path)
        dataset.zarr_manifest_md5sum = manifest_md5
        body = dataset.to_wire()
        versioned = dataset.parent_artifact_id is not None
        if versioned:
            body.update(dataset.versioning_wire())
        return _UploadPlan(
            owner=owner,
            name=name,
            slug=slugify(name),
            put=lambda: self.ctx.wire.datasets.put_dataset_v2(owner, name, body),
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
            plan.slug = answered_slug(stored_first, plan.slug)
        urn = artifact_urn("dataset", plan.owner, plan.slug if plan.versioned else plan.name)
        resume_hint = (
            f'Complete it with client.upload_dataset(dataset, if_exists="skip") for the same dataset '
            f"({plan.owner}/{plan.slug}); it sends only what is missing (CLI: the same `polaris datasets upload` "
            "command with --resume)."
        )
        with self.ctx.storage(urn, "write", timeout=timeout) as session:
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

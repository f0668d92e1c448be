"""Zarr archives on disk, as they are uploaded: which files, which go first, and fresh consolidated metadata.

The user's archive is only ever read. Consolidated metadata (``.zmetadata`` for format 2, the root ``zarr.json``
with ``consolidated_metadata`` for format 3) is rebuilt for every upload in a staging folder from the archive's
current metadata files (so an array added after an earlier consolidation is included) and uploaded in place of
the archive's own copy.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from polaris.errors import StorageError

if TYPE_CHECKING:
    from polaris.checksum import ZarrFileEntry

__all__ = ["ZARR_V2_CONSOLIDATED", "ZARR_V3_METADATA", "StagedZarr", "prepare_zarr", "stage_zarr"]

logger = logging.getLogger(__name__)

ZARR_V2_CONSOLIDATED = ".zmetadata"
ZARR_V3_METADATA = "zarr.json"
_METADATA_NAMES = frozenset({".zgroup", ".zarray", ".zattrs", ZARR_V3_METADATA})


@dataclass
class StagedZarr:
    """The files of one upload of a Zarr archive: relative key -> local file (in the archive or in staging)."""

    root: Path
    files: dict[str, Path]
    first: list[str]
    """Keys to upload before the others (the consolidated metadata)."""
    _entries: list[ZarrFileEntry] | None = field(default=None, repr=False)

    def entries(self) -> list[ZarrFileEntry]:
        """Path, md5 and size of every file as it will be uploaded (sorted by path; computed once)."""
        if self._entries is None:
            from polaris.checksum import ZarrFileEntry, file_md5

            found = []
            for rel in sorted(self.files):
                md5, size = file_md5(self.files[rel])
                found.append(ZarrFileEntry(path=rel, md5sum=md5, size=size))
            self._entries = found
        return list(self._entries)

    def md5_of(self, rel: str) -> str:
        for entry in self.entries():
            if entry.path == rel:
                return entry.md5sum
        raise KeyError(rel)


def _format_of(root: Path) -> Literal[2, 3]:
    if not root.is_dir():
        raise StorageError(f"{root} is not a folder")
    if (root / ZARR_V3_METADATA).is_file():
        return 3
    if (root / ".zgroup").is_file() or (root / ".zarray").is_file():
        return 2
    raise StorageError(f"{root} is not a Zarr archive (no zarr.json, .zgroup or .zarray at its root)")


def _is_group(root: Path, zarr_format: Literal[2, 3]) -> bool:
    if zarr_format == 2:
        return (root / ".zgroup").is_file()
    import json

    meta = json.loads((root / ZARR_V3_METADATA).read_text(encoding="utf-8"))
    return bool(meta.get("node_type") == "group")


def prepare_zarr(root: Path) -> list[str]:
    """Check that ``root`` is a Zarr archive and return the keys uploaded first. Writes nothing.

    Raises:
        StorageError: ``root`` is not a folder holding a Zarr group or array.
    """
    zarr_format = _format_of(Path(root))
    if zarr_format == 3:
        return [ZARR_V3_METADATA]
    return [ZARR_V2_CONSOLIDATED] if _is_group(Path(root), 2) else []


def stage_zarr(root: Path, staging: Path) -> StagedZarr:
    """The upload plan of the archive at ``root``; fresh consolidated metadata is written under ``staging``.

    Raises:
        StorageError: ``root`` is not a Zarr archive.
    """
    root = Path(root)
    zarr_format = _format_of(root)
    files: dict[str, Path] = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file():
                files[path.relative_to(root).as_posix()] = path
    if not _is_group(root, zarr_format):
        return StagedZarr(root, files, [ZARR_V3_METADATA] if zarr_format == 3 else [])
    key = ZARR_V3_METADATA if zarr_format == 3 else ZARR_V2_CONSOLIDATED
    mirror = Path(staging) / "metadata"
    for rel, path in files.items():
        if path.name in _METADATA_NAMES:
            target = mirror / rel
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    _consolidate(mirror, zarr_format)
    files.pop(ZARR_V2_CONSOLIDATED, None)  # the archive's own (possibly stale) copy is never sent
    files[key] = mirror / key
    return StagedZarr(root, files, [key])


def _consolidate(root: Path, zarr_format: Literal[2, 3]) -> None:
    import warnings

    import zarr
    from zarr.storage import LocalStore

    logger.debug("consolidating Zarr metadata in the staging copy %s", root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr warns that consolidated metadata is not part of the v3 spec
        zarr.consolidate_metadata(LocalStore(root), zarr_format=zarr_format)

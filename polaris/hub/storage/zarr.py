"""Zarr archives on disk: which keys go first, consolidated metadata."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from polaris.errors import StorageError

__all__ = ["ZARR_V2_CONSOLIDATED", "ZARR_V3_METADATA", "prepare_zarr"]

logger = logging.getLogger(__name__)

ZARR_V2_CONSOLIDATED = ".zmetadata"
ZARR_V3_METADATA = "zarr.json"


def prepare_zarr(root: Path) -> list[str]:
    """The keys to upload first (consolidated metadata), consolidating the local archive if needed.

    Raises:
        StorageError: ``root`` is not a folder holding a Zarr group or array.
    """
    if not root.is_dir():
        raise StorageError(f"{root} is not a folder")
    if (root / ZARR_V3_METADATA).is_file():
        import json

        meta = json.loads((root / ZARR_V3_METADATA).read_text(encoding="utf-8"))
        if meta.get("node_type") == "group" and not meta.get("consolidated_metadata"):
            _consolidate(root, 3)
        return [ZARR_V3_METADATA]
    if (root / ".zgroup").is_file() or (root / ".zarray").is_file():
        if (root / ".zgroup").is_file() and not (root / ZARR_V2_CONSOLIDATED).is_file():
            _consolidate(root, 2)
        return [ZARR_V2_CONSOLIDATED] if (root / ZARR_V2_CONSOLIDATED).is_file() else []
    raise StorageError(f"{root} is not a Zarr archive (no zarr.json, .zgroup or .zarray at its root)")


def _consolidate(root: Path, zarr_format: Literal[2, 3]) -> None:
    import warnings

    import zarr
    from zarr.storage import LocalStore

    logger.info("consolidating Zarr metadata of %s before upload", root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr warns that consolidated metadata is not part of the v3 spec
        zarr.consolidate_metadata(LocalStore(root), zarr_format=zarr_format)

"""Zarr archives on disk, as they are uploaded: which files, which go first, and fresh consolidated metadata.

Every file is hashed once (:meth:`StagedZarr.entries`), in parallel: big files one per task (hashlib releases the
GIL), small files in batches (little overhead per file). The bytes of small files read while hashing are kept (at
most ``KEEP_FILE_MAX`` each, ``KEEP_TOTAL_MAX`` in all) and are what the upload sends, so the bytes sent are the
bytes hashed; bigger files are read again at upload, and if one changed meanwhile its PUT carries the old md5 as
``Content-MD5`` and the storage refuses it (``BadDigest``): an upload error, never an object that differs from the
manifest. Measured, 8 x 16 MiB on 2 cores, best of 10: ``entries()`` 0.188 s on one thread, 0.097 s on two (the
medians, ~0.2 s, were equal while other processes kept both cores busy).

The user's archive is only ever read. Consolidated metadata (``.zmetadata`` for format 2, the root ``zarr.json``
with ``consolidated_metadata`` for format 3) is rebuilt for every upload in a staging folder from the archive's
current metadata files (so an array added after an earlier consolidation is included) and uploaded in place of
the archive's own copy.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from polaris.errors import StorageError

if TYPE_CHECKING:
    from polaris.checksum_zarr import ZarrFileEntry

__all__ = ["ZARR_V2_CONSOLIDATED", "ZARR_V3_METADATA", "StagedZarr", "prepare_zarr", "stage_zarr"]

logger = logging.getLogger(__name__)

ZARR_V2_CONSOLIDATED = ".zmetadata"
ZARR_V3_METADATA = "zarr.json"
_METADATA_NAMES = frozenset({".zgroup", ".zarray", ".zattrs", ZARR_V3_METADATA})
KEEP_FILE_MAX = 64 * 1024
"""Files up to this size keep the bytes read while hashing them, for the upload (no second read)."""
KEEP_TOTAL_MAX = 64 * 1024 * 1024
"""At most this many bytes are kept in all (the files listed first get them)."""
HASH_BATCH_FILES = 64
HASH_BATCH_BYTES = 4 * 1024 * 1024
"""Small files are hashed in batches of at most this many files / bytes; a bigger file is a task of its own."""
HASH_THREADS_MAX = 8
_READ_BLOCK = 1024 * 1024


@dataclass
class StagedZarr:
    """The files of one upload of a Zarr archive: relative key -> local file (in the archive or in staging)."""

    root: Path
    files: dict[str, Path]
    first: list[str]
    """Keys to upload before the others (the consolidated metadata)."""
    _entries: list[ZarrFileEntry] | None = field(default=None, repr=False)
    _bodies: dict[str, bytes] = field(default_factory=dict, repr=False)

    def entries(self) -> list[ZarrFileEntry]:
        """Path, md5 and size of every file as it will be uploaded (sorted by path; computed once, in parallel).

        Raises:
            OSError: a file cannot be read.
        """
        if self._entries is None:
            self._entries, self._bodies = _hash_files(self.files)
        return list(self._entries)

    def body(self, rel: str) -> bytes | Path:
        """What to upload for ``rel``: the bytes hashed by :meth:`entries` when they were kept, else the file."""
        self.entries()
        kept = self._bodies.get(rel)
        return kept if kept is not None else self.files[rel]

    def md5_of(self, rel: str) -> str:
        for entry in self.entries():
            if entry.path == rel:
                return entry.md5sum
        raise KeyError(rel)


def _hash_files(files: dict[str, Path]) -> tuple[list[ZarrFileEntry], dict[str, bytes]]:
    """(sorted entries, kept bodies) of ``files``; tasks run on a thread pool when there is more than one."""
    from polaris.checksum_zarr import ZarrFileEntry

    names = sorted(files)
    sizes = [files[n].stat().st_size for n in names]
    budget = KEEP_TOTAL_MAX
    plans: list[tuple[str, int | None]] = []  # (name, size to keep or None)
    for name, size in zip(names, sizes, strict=True):
        keep = size <= KEEP_FILE_MAX and size <= budget
        if keep:
            budget -= size
        plans.append((name, size if keep else None))
    tasks: list[list[tuple[str, int | None]]] = []
    batch: list[tuple[str, int | None]] = []
    batch_bytes = 0
    for plan, size in zip(plans, sizes, strict=True):
        if batch and (
            size > HASH_BATCH_BYTES or len(batch) >= HASH_BATCH_FILES or batch_bytes + size > HASH_BATCH_BYTES
        ):
            tasks.append(batch)
            batch, batch_bytes = [], 0
        if size > HASH_BATCH_BYTES:  # a task of its own (tasks stay in sorted order)
            tasks.append([plan])
            continue
        batch.append(plan)
        batch_bytes += size
    if batch:
        tasks.append(batch)

    def run(task: Sequence[tuple[str, int | None]]) -> list[tuple[str, str, int, bytes | None]]:
        return [(name, *_hash_one(files[name], keep)) for name, keep in task]

    threads = min(HASH_THREADS_MAX, os.cpu_count() or 1, len(tasks))
    if threads <= 1:
        results = [run(task) for task in tasks]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads, thread_name_prefix="polaris-hash") as pool:
            results = list(pool.map(run, tasks))
    entries: list[ZarrFileEntry] = []
    bodies: dict[str, bytes] = {}
    for done in results:  # tasks hold consecutive runs of the sorted names: the result stays sorted
        for name, md5, size, data in done:
            entries.append(ZarrFileEntry(path=name, md5sum=md5, size=size))
            if data is not None:
                bodies[name] = data
    return entries, bodies


def _hash_one(path: Path, keep: int | None) -> tuple[str, int, bytes | None]:
    """(md5 hex, size, the bytes when ``keep`` is the size they were listed with and they still fit it)."""
    with open(path, "rb") as fh:
        if keep is not None:
            data = fh.read(keep + 1)
            if len(data) <= keep:
                return hashlib.md5(data).hexdigest(), len(data), data
        else:
            data = b""
        digest = hashlib.md5(data)  # a file that grew since it was listed is hashed as it is now, and not kept
        size = len(data)
        while block := fh.read(_READ_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size, None


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

"""Is an artifact's upload complete? The stored objects are compared with the content its metadata declares.

An upload is two steps (the metadata PUT, then the objects through storage), so between them, or when a client
stops halfway, the Hub holds metadata whose bytes are missing or different. Such an artifact is not published: it
is left out of lists and its GET answers 409 ``Upload incomplete`` naming the missing and mismatched keys, until the
objects match. What is compared:

* V1 dataset: ``table.parquet`` (md5 and size of ``tableContent``), every ``zarrContent`` entry under
  ``data.zarr/`` (md5 ``md5sum``, size);
* V2 dataset: ``zarr_manifest.parquet`` (md5 of ``zarrManifestFileContent``), then every file the manifest lists
  under ``data.zarr/`` (md5);
* V2 benchmark: ``training.roaring`` and ``test.roaring`` (md5 ``md5Checksum``; the bitmap's cardinality
  ``datapoints``; no overlap; indices below the dataset's ``nRows``).

An object's md5 is its ETag when S3 computed one from the content (single-part uploads), otherwise the bytes are
read and hashed. Once complete, an artifact is remembered as published until it is stored again, and the previous
versions the durable store retained for its objects are dropped (they are no longer needed to put it back together).

The same rules run at start on the durable store itself (:class:`StoredVersions`: every object's current version
plus the versions retained when it was overwritten), which is how the start-up repair finds a complete version.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from polaris.emulator.core import (
    BENCHMARK_V2,
    DATASET,
    DATASET_V2,
    MANIFEST_FILE,
    TABLE_FILE,
    ZARR_DIR,
    HubState,
    storage_prefix,
)
from polaris.emulator.db import Artifact
from polaris.emulator.disk_store import DiskStore, RetainedVersion
from polaris.emulator.objects import BUCKET

_PLAIN_ETAG = re.compile(r'^"?([0-9a-f]{32})"?$')
CHECKED_KINDS = (DATASET, DATASET_V2, BENCHMARK_V2)


@dataclass
class Completeness:
    missing: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.mismatched

    def detail(self) -> dict[str, Any]:
        return {"state": "incomplete", "missing": self.missing, "mismatched": self.mismatched}

    def message(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} object(s) missing ({', '.join(self.missing[:3])})")
        if self.mismatched:
            parts.append(f"{len(self.mismatched)} object(s) differ ({', '.join(self.mismatched[:3])})")
        parts += self.problems[:2]
        return "Upload incomplete: " + "; ".join(parts) + " — finish the upload (the owner can still write to it)"


class ObjectView(Protocol):
    """The objects under one artifact's prefix, by key relative to it (what :func:`check` compares)."""

    def has(self, rel: str) -> bool: ...

    def matches(self, rel: str, md5: str | None, size: int | None) -> bool:
        """Is there a version of ``rel`` with this md5 and size (None: any)? Later reads of ``rel`` see it."""
        ...

    def read(self, rel: str) -> bytes | None: ...


class _Listing:
    """One listing of the artifact's prefix in moto: key -> (size, etag)."""

    def __init__(self, state: HubState, prefix: str) -> None:
        self.state = state
        self.prefix = prefix
        self.objects: dict[str, tuple[int, str]] = {}
        paginator = state.store.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix + "/"):
            for item in page.get("Contents", []):
                self.objects[item["Key"][len(prefix) + 1 :]] = (int(item["Size"]), str(item.get("ETag", "")))

    def md5(self, rel: str) -> str | None:
        if rel not in self.objects:
            return None
        match = _PLAIN_ETAG.match(self.objects[rel][1])
        if match:
            return match.group(1)
        data = self.read(rel)
        return None if data is None else hashlib.md5(data).hexdigest()

    def read(self, rel: str) -> bytes | None:
        return self.state.store.get(f"{self.prefix}/{rel}")

    def has(self, rel: str) -> bool:
        return rel in self.objects

    def matches(self, rel: str, md5: str | None, size: int | None) -> bool:
        if rel not in self.objects:
            return False
        return (size is None or self.objects[rel][0] == size) and (md5 is None or self.md5(rel) == md5)


class StoredVersions:
    """The durable store's versions of the objects under a prefix: the current one, else one retained at an overwrite.

    :meth:`matches` prefers the current version; when only a retained one fits, it is recorded in :attr:`chosen`
    (``{key: version}``: what :meth:`polaris.emulator.objects.ObjectStore.restore` must put back). With
    ``retained=False`` only current versions count.
    """

    def __init__(self, disk: DiskStore, prefix: str, *, retained: bool = True) -> None:
        self.disk = disk
        self.prefix = prefix
        head = prefix + "/"
        self.versions = disk.retained(lambda key: key.startswith(head)) if retained else {}
        self.chosen: dict[str, RetainedVersion] = {}

    def has(self, rel: str) -> bool:
        key = f"{self.prefix}/{rel}"
        return self.disk.get(key) is not None or bool(self.versions.get(key))

    def matches(self, rel: str, md5: str | None, size: int | None) -> bool:
        key = f"{self.prefix}/{rel}"
        self.chosen.pop(key, None)
        current = self.disk.get(key)
        if current is not None and (md5 is None or current.md5 == md5) and (size is None or current.size == size):
            return True
        if md5 is None:
            return False
        version = self.versions.get(key, {}).get(md5)
        if version is None or (size is not None and version.obj.size != size):
            return False
        self.chosen[key] = version
        return True

    def read(self, rel: str) -> bytes | None:
        key = f"{self.prefix}/{rel}"
        version = self.chosen.get(key)
        return self.disk.read(key) if version is None else self.disk.read_retained(version)


def _compare(view: ObjectView, result: Completeness, rel: str, md5: Any, size: Any = None) -> bool:
    """Compare one object; record it as missing or mismatched. True when it matches."""
    if not view.has(rel):
        result.missing.append(rel)
        return False
    if not view.matches(rel, md5 if isinstance(md5, str) else None, size if isinstance(size, int) else None):
        result.mismatched.append(rel)
        return False
    return True


def _zarr_key(view: ObjectView, path: str) -> str:
    """The key of a Zarr file entry: relative to ``data.zarr/`` (tolerating a leading ``<name>.zarr/``)."""
    rel = f"{ZARR_DIR}/{path.lstrip('/')}"
    if not view.has(rel):
        head, _, rest = path.lstrip("/").partition("/")
        if head.endswith(".zarr") and rest:
            return f"{ZARR_DIR}/{rest}"
    return rel


def check(state: HubState, art: Artifact, view: ObjectView | None = None) -> Completeness:
    """Compare the stored objects (moto's, or ``view``'s) with what the artifact declares (blocking: use a thread)."""
    result = Completeness()
    listing: ObjectView = _Listing(state, storage_prefix(art)) if view is None else view
    body = art.body
    if art.kind == DATASET:
        table = body.get("tableContent") or {}
        _compare(listing, result, TABLE_FILE, table.get("md5Sum"), table.get("size"))
        for entry in body.get("zarrContent") or []:
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                key = _zarr_key(listing, entry["path"])
                _compare(listing, result, key, entry.get("md5sum"), entry.get("size"))
    elif art.kind == DATASET_V2:
        declared = (body.get("zarrManifestFileContent") or {}).get("md5Sum") or body.get("zarrManifestMd5Sum")
        if _compare(listing, result, MANIFEST_FILE, declared):
            for path, md5 in _manifest(listing.read(MANIFEST_FILE) or b"", result).items():
                _compare(listing, result, _zarr_key(listing, path), md5)
    elif art.kind == BENCHMARK_V2:
        _check_index_sets(state, art, listing, result)
    return result


def _manifest(data: bytes, result: Completeness) -> dict[str, str]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data)).to_pydict()
    except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError; a corrupt manifest is reported
        result.mismatched.append(MANIFEST_FILE)
        result.problems.append(f"the manifest cannot be read ({type(exc).__name__})")
        return {}
    paths = table.get("path") or []
    sums = table.get("md5_checksum") or table.get("md5sum") or table.get("md5Sum") or []
    return {str(p): str(m) for p, m in zip(paths, sums, strict=False)}


def _check_index_sets(state: HubState, art: Artifact, listing: ObjectView, result: Completeness) -> None:
    from pyroaring import BitMap

    split = art.body.get("split") or {}
    sets: dict[str, Any] = {}
    for name in ("training", "test"):
        declared = split.get(name) or {}
        rel = f"{name}.roaring"
        if not _compare(listing, result, rel, declared.get("md5Checksum")):
            continue
        try:
            bitmap = BitMap.deserialize(listing.read(rel) or b"")
        except (ValueError, OverflowError):
            result.mismatched.append(rel)
            result.problems.append(f"{rel} is not a serialised Roaring bitmap")
            continue
        if len(bitmap) != declared.get("datapoints"):
            result.mismatched.append(rel)
            result.problems.append(f"{rel} holds {len(bitmap)} indices, not {declared.get('datapoints')}")
            continue
        sets[name] = bitmap
    if len(sets) == 2:
        if sets["training"] & sets["test"]:
            result.mismatched.append("test.roaring")
            result.problems.append("training and test index sets overlap")
        owner, _, slug = str(art.body.get("datasetArtifactId", "")).partition("/")
        dataset = state.db.get_artifact(DATASET_V2, owner, slug)
        n_rows = dataset.body.get("nRows") if dataset else None
        for name, bitmap in sets.items():
            if isinstance(n_rows, int) and bitmap and bitmap.max() >= n_rows:
                result.mismatched.append(f"{name}.roaring")
                result.problems.append(f"{name} indices reach {bitmap.max()}, the dataset has {n_rows} rows")


def is_published(state: HubState, art: Artifact) -> tuple[bool, Completeness | None]:
    """Published (complete) or not, remembering a positive answer until the artifact is stored again."""
    if art.kind not in CHECKED_KINDS:
        return True, None
    key = (art.kind, art.owner, art.slug, art.updated_at)
    if key in state.published:
        return True, None
    disk = state.store.disk
    head = storage_prefix(art) + "/"
    retained = disk.retained(lambda k: k.startswith(head)) if disk is not None else {}
    result = check(state, art)
    if result.complete:
        with state.lock:
            state.published.add(key)
        # What moto holds is complete; once the disk's current versions are too, the old ones are not needed.
        if disk is not None and retained:
            on_disk = StoredVersions(disk, head[:-1], retained=False)
            if check(state, art, on_disk).complete:
                disk.prune_retained(retained)
        return True, None
    return False, result

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
read and hashed. Once complete, an artifact is remembered as published until it is stored again.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any

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


class _Listing:
    """One listing of the artifact's prefix: key -> (size, etag)."""

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

    def check(self, result: Completeness, rel: str, md5: Any, size: Any = None) -> bool:
        """Compare one object; record it as missing or mismatched. True when it matches."""
        if rel not in self.objects:
            result.missing.append(rel)
            return False
        if (isinstance(size, int) and self.objects[rel][0] != size) or (isinstance(md5, str) and self.md5(rel) != md5):
            result.mismatched.append(rel)
            return False
        return True


def _zarr_key(listing: _Listing, path: str) -> str:
    """The key of a Zarr file entry: relative to ``data.zarr/`` (tolerating a leading ``<name>.zarr/``)."""
    rel = f"{ZARR_DIR}/{path.lstrip('/')}"
    if rel not in listing.objects:
        head, _, rest = path.lstrip("/").partition("/")
        if head.endswith(".zarr") and rest:
            return f"{ZARR_DIR}/{rest}"
    return rel


def check(state: HubState, art: Artifact) -> Completeness:
    """Compare the stored objects with what the artifact declares (blocking: run it in a thread)."""
    result = Completeness()
    listing = _Listing(state, storage_prefix(art))
    body = art.body
    if art.kind == DATASET:
        table = body.get("tableContent") or {}
        listing.check(result, TABLE_FILE, table.get("md5Sum"), table.get("size"))
        for entry in body.get("zarrContent") or []:
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                listing.check(result, _zarr_key(listing, entry["path"]), entry.get("md5sum"), entry.get("size"))
    elif art.kind == DATASET_V2:
        declared = (body.get("zarrManifestFileContent") or {}).get("md5Sum") or body.get("zarrManifestMd5Sum")
        if listing.check(result, MANIFEST_FILE, declared):
            for path, md5 in _manifest(listing.read(MANIFEST_FILE) or b"", result).items():
                listing.check(result, _zarr_key(listing, path), md5)
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


def _check_index_sets(state: HubState, art: Artifact, listing: _Listing, result: Completeness) -> None:
    from pyroaring import BitMap

    split = art.body.get("split") or {}
    sets: dict[str, Any] = {}
    for name in ("training", "test"):
        declared = split.get(name) or {}
        rel = f"{name}.roaring"
        if not listing.check(result, rel, declared.get("md5Checksum")):
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
    result = check(state, art)
    if result.complete:
        with state.lock:
            state.published.add(key)
        return True, None
    return False, result

"""Start-up check of a data dir: no artifact row may point at objects that are not (all) in the durable store.

Metadata and objects commit in one order: the client writes a dataset's row first (``PUT /v1/dataset/...``), then its
objects, each on disk before it is acknowledged (:mod:`polaris.emulator.objects`). A crash in between leaves a row
whose objects are missing or belong to the version it replaced. At start, before anything is served, every row of a
kind with stored content is checked against the verified objects on disk:

* complete (its table / manifest and every Zarr file it declares are there with the declared md5) -> kept;
* incomplete, but the version it replaced is complete -> rolled back to that version (the replace never finished);
* otherwise -> removed (its upload never finished; upload it again).

Objects under a dataset prefix that no row owns any more (``dataset/<owner>/<slug>/...``) are removed as orphans.
Everything done is logged and returned, so the emulator can report it.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polaris.emulator.db import Database
from polaris.emulator.objects import ObjectStore

log = logging.getLogger(__name__)

TOPS = {"dataset": "dataset", "dataset_v2": "dataset", "competition_dataset": "competition-dataset"}
"""First key segment of each storage kind (``<top>/<owner>/<slug>/...``)."""
TABLE = "table.parquet"
ZARR = "data.zarr"
MANIFEST = "zarr_manifest.parquet"


@dataclass
class RepairReport:
    checked: int = 0
    rolled_back: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.rolled_back or self.removed or self.orphans_removed)

    def lines(self) -> list[str]:
        out = [f"rolled back {a}: its replacement's objects never all arrived" for a in self.rolled_back]
        out += [f"removed {a}: its upload never completed (upload it again)" for a in self.removed]
        if self.orphans_removed:
            out.append(f"removed {len(self.orphans_removed)} orphan objects (no artifact owns them)")
        return out


def prefix_of(kind: str, owner: str, slug: str) -> str:
    return f"{TOPS[kind]}/{owner}/{slug}"


def _manifest_entries(store: ObjectStore, key: str) -> dict[str, str] | None:
    from polaris.checksum import read_zarr_manifest

    assert store.disk is not None
    body = store.disk.read(key)
    if body is None:
        return None
    with tempfile.TemporaryDirectory(prefix="polaris-repair-") as tmp:
        path = Path(tmp) / MANIFEST
        path.write_bytes(body)
        try:
            return read_zarr_manifest(path)
        except (OSError, ValueError) as exc:
            log.warning("manifest %s is unreadable (%s)", key, exc)
            return None


def missing_objects(
    store: ObjectStore, kind: str, prefix: str, body: dict[str, Any], digests: dict[str, str]
) -> list[str]:
    """Keys (with the reason) that ``body`` declares but the durable store lacks or holds with another md5."""
    expected: dict[str, str] = {}
    if kind == "dataset_v2":
        manifest_md5 = (body.get("zarrManifestFileContent") or {}).get("md5Sum") or body.get("zarrManifestMd5Sum")
        if not isinstance(manifest_md5, str):
            return []
        key = f"{prefix}/{MANIFEST}"
        if digests.get(key) != manifest_md5:
            return [f"{key} (manifest)"]
        entries = _manifest_entries(store, key)
        if entries is None:
            return [f"{key} (unreadable manifest)"]
        expected.update({f"{prefix}/{ZARR}/{path}": md5 for path, md5 in entries.items()})
    else:
        table = body.get("tableContent")
        if isinstance(table, dict) and isinstance(table.get("md5Sum"), str):
            expected[f"{prefix}/{TABLE}"] = table["md5Sum"]
        for entry in body.get("zarrContent") or []:
            if isinstance(entry, dict) and isinstance(entry.get("path"), str) and isinstance(entry.get("md5sum"), str):
                expected[f"{prefix}/{ZARR}/{entry['path']}"] = entry["md5sum"]
    return [key for key, md5 in expected.items() if digests.get(key) != md5]


def repair(db: Database, store: ObjectStore) -> RepairReport:
    """Make the rows agree with the durable objects (see the module docstring); a no-op when not durable."""
    report = RepairReport()
    if store.disk is None:
        return report
    digests = store.disk.digests()
    owned: set[str] = set()
    for art, previous in db.storage_artifacts():
        report.checked += 1
        name = f"{art.kind} {art.owner}/{art.slug}"
        prefix = prefix_of(art.kind, art.owner, art.slug)
        missing = missing_objects(store, art.kind, prefix, art.body, digests)
        if not missing:
            owned.add(prefix)
            continue
        log.warning("%s lacks %d of its objects (e.g. %s)", name, len(missing), missing[0])
        if previous is not None and not missing_objects(store, art.kind, prefix, previous, digests):
            db.roll_back_artifact(art.kind, art.owner, art.slug)
            report.rolled_back.append(name)
            owned.add(prefix)
        else:
            db.delete_artifact(art.kind, art.owner, art.slug)
            report.removed.append(name)
    # a V1 and a V2 dataset share the dataset/ namespace; a prefix stays owned while any row keeps it
    for kind, owner, slug in ((a.kind, a.owner, a.slug) for a, _ in db.storage_artifacts()):
        owned.add(prefix_of(kind, owner, slug))
    for key in sorted(digests):
        parts = key.split("/")
        if len(parts) < 4 or parts[0] not in TOPS.values():
            continue
        if "/".join(parts[:3]) not in owned:
            store.delete(key)
            report.orphans_removed.append(key)
    for line in report.lines():
        log.warning("data dir repair: %s", line)
    return report

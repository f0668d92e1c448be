"""Start-up check of a data dir: after a crash every artifact is a complete version again, or stays unpublished.

Metadata and objects commit in one order: the client writes an artifact's row first (``PUT /v1/dataset/...``), then
its objects, each on disk before it is acknowledged (:mod:`polaris.emulator.disk_store`). While the emulator runs, such
a half-uploaded artifact answers ``409 Upload incomplete`` (:mod:`polaris.emulator.publish`). An object overwritten
with other content keeps its previous version in the store's ``retained/`` folder until the artifact is complete
again. At start -- after the durable objects are loaded and before anything is served -- every row whose content lives
in storage is checked with the same rules (:func:`polaris.emulator.publish.check` on
:class:`~polaris.emulator.publish.StoredVersions`; competition datasets by their table), in this order:

* complete with the current objects -> kept;
* complete with the current row once retained versions are put back (objects of a published artifact were
  overwritten, and the kill came before the replacement was whole) -> those versions are restored;
* the row it replaced is complete with current or retained versions (a replacement whose metadata had already been
  sent) -> restored and the row rolled back to that version;
* otherwise (a first upload that never finished) -> kept as it is: still unpublished (409, not listed) until its
  owner finishes the upload.

Nothing acknowledged is deleted: a current object a restore replaces is moved to ``store/displaced/`` (logged), rows
are never removed, and objects no row declares stay where they are. Retained versions are dropped once the version
they could restore is no longer needed (the artifact is complete), or when no artifact owns their key.
Everything done is logged and returned.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

from polaris.emulator import publish
from polaris.emulator.core import COMPETITION_DATASET, STORAGE_TOP, TABLE_FILE, HubState, storage_prefix
from polaris.emulator.db import Artifact
from polaris.emulator.disk_store import DamagedObjectError, DiskStore

log = logging.getLogger(__name__)


@dataclass
class RepairReport:
    checked: int = 0
    restored: list[str] = field(default_factory=list)
    """Artifacts whose overwritten objects were put back (the row was unchanged)."""
    rolled_back: list[str] = field(default_factory=list)
    unpublished: list[str] = field(default_factory=list)
    displaced: list[str] = field(default_factory=list)
    """Keys of acknowledged objects a restore replaced (kept in ``store/displaced/``)."""
    retained_dropped: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.restored or self.rolled_back or self.displaced)

    def lines(self, disk: DiskStore | None = None) -> list[str]:
        restored = "objects of its published version were overwritten and never all replaced"
        out = [f"restored {a}: {restored}" for a in self.restored]
        out += [f"rolled back {a}: its replacement's objects never all arrived" for a in self.rolled_back]
        unfinished = "its upload never completed (finish it, e.g. upload it again)"
        out += [f"{a} stays unpublished: {unfinished}" for a in self.unpublished]
        if self.displaced:
            where = "" if disk is None else f" in {disk.displaced_dir}"
            out.append(
                f"set aside {len(self.displaced)} acknowledged objects of unfinished replacements{where} "
                f"(e.g. {self.displaced[0]})"
            )
        return out


def _complete(state: HubState, art: Artifact, view: publish.StoredVersions) -> bool:
    """Does ``view`` hold a complete version of ``art``?"""
    if art.kind in publish.CHECKED_KINDS:
        return publish.check(state, art, view).complete
    if art.kind == COMPETITION_DATASET:
        table = art.body.get("tableContent")
        if isinstance(table, dict) and isinstance(table.get("md5Sum"), str):
            return view.matches(TABLE_FILE, table["md5Sum"], None)
    return True


def repair(state: HubState) -> RepairReport:
    """Make the rows agree with the durable objects (see the module docstring); a no-op when not durable."""
    report = RepairReport()
    store, db = state.store, state.db
    disk = store.disk
    if disk is None:
        return report
    for art, previous in db.storage_artifacts():
        report.checked += 1
        name = f"{art.kind} {art.owner}/{art.slug}"
        prefix = storage_prefix(art)
        if _complete(state, art, publish.StoredVersions(disk, prefix, retained=False)):
            continue
        log.warning("%s does not match its stored objects", name)
        view = publish.StoredVersions(disk, prefix)
        target: Artifact | None = None
        if _complete(state, art, view):
            target, kept = art, report.restored
        elif previous is not None:
            before = dataclasses.replace(art, body=previous)
            view = publish.StoredVersions(disk, prefix)
            if _complete(state, before, view):
                target, kept = before, report.rolled_back
        if target is None:
            report.unpublished.append(name)
            continue
        try:
            for key, version in sorted(view.chosen.items()):
                current = disk.get(key)
                store.restore(version)
                if current is not None and current.md5 != version.obj.md5:
                    report.displaced.append(key)
        except (OSError, DamagedObjectError) as exc:
            log.error("%s could not be put back together (%s); it stays unpublished", name, exc)
            report.unpublished.append(name)
            continue
        if target is not art:
            db.roll_back_artifact(art.kind, art.owner, art.slug)
        kept.append(name)
    # Retained versions are needed only until their artifact is complete; those of keys no artifact owns never are.
    complete: set[str] = set()
    owners: set[str] = set()
    for art, _ in db.storage_artifacts(tuple(STORAGE_TOP)):
        prefix = storage_prefix(art)
        owners.add(prefix)
        if f"{art.kind} {art.owner}/{art.slug}" not in report.unpublished:
            complete.add(prefix)

    def needless(key: str) -> bool:
        prefix = "/".join(key.split("/")[:3])
        return prefix in complete or prefix not in owners

    report.retained_dropped = disk.prune_retained(disk.retained(needless))
    for line in report.lines(disk):
        log.warning("data dir repair: %s", line)
    return report

"""Start-up check of a data dir: after a crash, no artifact row may stay over objects that never (all) arrived.

Metadata and objects commit in one order: the client writes an artifact's row first (``PUT /v1/dataset/...``), then
its objects, each on disk before it is acknowledged (:mod:`polaris.emulator.objects`). While the emulator runs, such
a half-uploaded artifact answers ``409 Upload incomplete`` (:mod:`polaris.emulator.publish`). A crash kills the
upload for good, so at start — after the durable objects are loaded and before anything is served — every row whose
content lives in storage is checked with the same rules (:func:`polaris.emulator.publish.check`; competition
datasets by their table):

* complete -> kept;
* incomplete, but the version it replaced is complete -> rolled back to that version (a replace that never
  finished must not leave the new checksums over the old objects);
* otherwise -> removed (its upload never finished; upload it again).

Objects under an artifact prefix (``<top>/<owner>/<slug>/...``) that no row owns any more are removed as orphans.
Everything done is logged and returned.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from polaris.emulator.core import COMPETITION_DATASET, STORAGE_TOP, TABLE_FILE, HubState, storage_prefix
from polaris.emulator.db import Artifact

log = logging.getLogger(__name__)


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


def missing_objects(state: HubState, art: Artifact, digests: dict[str, str]) -> list[str]:
    """Keys the artifact declares that storage lacks or holds with other content (empty: complete)."""
    from polaris.emulator import publish

    if art.kind in publish.CHECKED_KINDS:
        result = publish.check(state, art)
        return [*result.missing, *result.mismatched]
    if art.kind == COMPETITION_DATASET:
        table = art.body.get("tableContent")
        if isinstance(table, dict) and isinstance(table.get("md5Sum"), str):
            key = f"{storage_prefix(art)}/{TABLE_FILE}"
            return [] if digests.get(key) == table["md5Sum"] else [TABLE_FILE]
    return []


def repair(state: HubState) -> RepairReport:
    """Make the rows agree with the durable objects (see the module docstring); a no-op when not durable."""
    report = RepairReport()
    store, db = state.store, state.db
    if store.disk is None:
        return report
    digests = store.disk.digests()
    for art, previous in db.storage_artifacts():
        report.checked += 1
        name = f"{art.kind} {art.owner}/{art.slug}"
        missing = missing_objects(state, art, digests)
        if not missing:
            continue
        log.warning("%s lacks %d of its objects (e.g. %s)", name, len(missing), missing[0])
        before: Any = None if previous is None else dataclasses.replace(art, body=previous)
        if before is not None and not missing_objects(state, before, digests):
            db.roll_back_artifact(art.kind, art.owner, art.slug)
            report.rolled_back.append(name)
        else:
            db.delete_artifact(art.kind, art.owner, art.slug)
            report.removed.append(name)
    owned = {storage_prefix(a) for a, _ in db.storage_artifacts(tuple(STORAGE_TOP))}
    tops = set(STORAGE_TOP.values())
    for key in sorted(digests):
        parts = key.split("/")
        if len(parts) >= 4 and parts[0] in tops and "/".join(parts[:3]) not in owned:
            store.delete(key)
            report.orphans_removed.append(key)
    for line in report.lines():
        log.warning("data dir repair: %s", line)
    return report

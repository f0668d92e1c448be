"""The CLI listing rows: V1 and V2 artifacts keep their kind and version; pages are walked to the end."""

from __future__ import annotations

from typing import Any

from polaris.cli._listing import ListedArtifact, _matches
from polaris.hub.listing import walk_summaries
from polaris.hub.wire import ArtifactSummary, Page


def _summary(artifact: str, version: int, kind: str = "dataset", **extra: Any) -> ArtifactSummary:
    owner, _, name = artifact.partition("/")
    return ArtifactSummary(kind=kind, owner=owner, name=name, artifact_id=artifact, version=version, extra=extra)


def test_rows_keep_kind_version_and_access() -> None:
    v2 = ListedArtifact.of(_summary("org/zarr-set", 2, access="public"))
    v1 = ListedArtifact.of(_summary("org/table-set", 1))
    assert (v2.kind, v2.version, v2.access) == ("dataset", 2, "public")
    assert (v1.version, v1.access, v1.name) == (1, None, "table-set")


def test_walk_follows_pages_v2_first() -> None:
    items = [_summary(f"o/v2-{i}", 2) for i in range(3)] + [_summary(f"o/v1-{i}", 1) for i in range(4)]
    asked: list[tuple[int, int]] = []

    def fetch(client: Any, limit: int, offset: int) -> Page:
        asked.append((limit, offset))
        chunk = items[offset : offset + limit]
        return Page(
            items=[s.artifact_id for s in chunk], total=len(items), limit=limit, offset=offset, entries=tuple(chunk)
        )

    walked = list(walk_summaries(None, fetch, 2))  # type: ignore[arg-type]
    assert [s.artifact_id for s in walked] == [s.artifact_id for s in items]
    assert asked == [(2, 0), (2, 2), (2, 4), (2, 6)]


def test_filter_and_owner_match_case_insensitively() -> None:
    row = ListedArtifact.of(_summary("Polaris-Demo/FreeSolv", 1))
    assert _matches(row, "freesolv", None) and _matches(row, None, "polaris-demo")
    assert not _matches(row, "zarr", None) and not _matches(row, None, "someone-else")

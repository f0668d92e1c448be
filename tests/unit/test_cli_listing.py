"""The CLI listing rows: V1 and V2 artifacts keep their kind, version and access; filters match loosely."""

from __future__ import annotations

from typing import Any

from polaris.cli._listing import ListedArtifact, _matches
from polaris.hub.wire import ArtifactSummary


def _summary(artifact: str, version: int, kind: str = "dataset", **extra: Any) -> ArtifactSummary:
    owner, _, name = artifact.partition("/")
    return ArtifactSummary(kind=kind, owner=owner, name=name, artifact_id=artifact, version=version, extra=extra)


def test_rows_keep_kind_version_and_access() -> None:
    v2 = ListedArtifact.of(_summary("org/zarr-set", 2, access="public"))
    v1 = ListedArtifact.of(_summary("org/table-set", 1))
    assert (v2.kind, v2.version, v2.access) == ("dataset", 2, "public")
    assert (v1.version, v1.access, v1.name) == (1, None, "table-set")


def test_filter_and_owner_match_case_insensitively() -> None:
    row = ListedArtifact.of(_summary("Polaris-Demo/FreeSolv", 1))
    assert _matches(row, "freesolv", None) and _matches(row, None, "polaris-demo")
    assert not _matches(row, "zarr", None) and not _matches(row, None, "someone-else")

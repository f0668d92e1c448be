"""The CLI listing rows: V1 and V2 artifacts keep their kind, format, version and access; filters match loosely."""

from __future__ import annotations

from typing import Any

from polaris.cli._listing import ListedArtifact, _matches
from polaris.hub.wire import ArtifactSummary


def _summary(
    artifact: str, version: int, kind: str = "dataset", artifact_version: int | None = None, **extra: Any
) -> ArtifactSummary:
    owner, _, name = artifact.partition("/")
    return ArtifactSummary(
        kind=kind,
        owner=owner,
        name=name,
        artifact_id=artifact,
        version=version,
        artifact_version=artifact_version,
        extra=extra,
    )


def test_rows_keep_kind_version_and_access() -> None:
    v2 = ListedArtifact.of(_summary("org/zarr-set", 2, access="public", artifact_version=3))
    v1 = ListedArtifact.of(_summary("org/table-set", 1))
    # format is the generation (V1 table / V2 Zarr); version the Hub's version number of the artifact, if any
    assert (v2.kind, v2.format, v2.version, v2.access) == ("dataset", "V2", 3, "public")
    assert (v1.format, v1.version, v1.access, v1.name) == ("V1", None, None, "table-set")


def test_filter_and_owner_match_case_insensitively() -> None:
    row = ListedArtifact.of(_summary("Polaris-Demo/FreeSolv", 1))
    assert _matches(row, "freesolv", None) and _matches(row, None, "polaris-demo")
    assert not _matches(row, "zarr", None) and not _matches(row, None, "someone-else")

"""The ``list`` command every domain has: pages or everything, ``--filter``/``--owner``, a table or JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import typer

from polaris.cli._common import emit_json, make_client, out_console

if TYPE_CHECKING:
    from polaris.hub.client import PolarisHubClient

__all__ = ["DEFAULT_LIMIT", "ListedArtifact", "Source", "run_listing"]

#: Default page size of a listing command.
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class ListedArtifact:
    """One row of a listing (also the JSON object printed by ``--json``)."""

    artifact: str
    owner: str
    name: str
    kind: str
    version: int

    @classmethod
    def of(cls, artifact_id: str, kind: str, version: int) -> ListedArtifact:
        owner, _, name = artifact_id.partition("/")
        return cls(artifact=artifact_id, owner=owner, name=name, kind=kind, version=version)


@dataclass(frozen=True)
class Source:
    """Where one kind of artifact is listed: a page (limit, offset) and a walk over every page."""

    kind: str
    version: int
    page: Callable[[PolarisHubClient, int, int], list[str]]
    walk: Callable[[PolarisHubClient, int], Iterable[str]]


LIMIT = typer.Option(DEFAULT_LIMIT, "--limit", min=1, help="Items per page.")
OFFSET = typer.Option(0, "--offset", min=0, help="Items to skip.")
ALL = typer.Option(False, "--all", help="Walk every page.")
FILTER = typer.Option(None, "--filter", help="Only names containing this text (case-insensitive).")
OWNER = typer.Option(None, "--owner", help="Only artifacts of this owner (user or organization).")
JSON = typer.Option(False, "--json", help="Print a JSON array of {artifact, owner, name, kind, version}.")


def _matches(item: ListedArtifact, text: str | None, owner: str | None) -> bool:
    if owner is not None and item.owner.lower() != owner.lower():
        return False
    return text is None or text.lower() in item.artifact.lower()


def run_listing(
    ctx: typer.Context,
    title: str,
    sources: list[Source],
    *,
    limit: int,
    offset: int,
    everything: bool,
    text: str | None,
    owner: str | None,
    as_json: bool,
) -> None:
    """List from every source (V1 and V2 kinds), filter, page, and print."""
    rows: list[ListedArtifact] = []
    filtering = text is not None or owner is not None
    with make_client(ctx, progress=False) as client:
        if client.offline:
            from polaris.errors import OfflineError

            raise OfflineError(f"Offline mode is on: listing {title.lower()} needs the Hub, and no request was sent")
        for source in sources:
            if everything or filtering or len(sources) > 1:
                names: Iterable[str] = source.walk(client, limit)
            else:
                names = source.page(client, limit, offset)
            rows.extend(ListedArtifact.of(n, source.kind, source.version) for n in names)
    rows = [r for r in rows if _matches(r, text, owner)]
    if not everything and (filtering or len(sources) > 1):
        rows = rows[offset : offset + limit]
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    from rich.table import Table

    table = Table(title=f"{title} ({len(rows)})", title_justify="left")
    for column in ("owner", "name", "kind", "version"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.owner, row.name, row.kind, f"v{row.version}")
    out_console().print(table)

"""The ``list`` command every domain has: pages or everything, ``--filter``/``--owner``, a table or JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import typer

from polaris.cli._common import emit_json, make_client, out_console, resolve_owner

if TYPE_CHECKING:
    from polaris.hub.wire import ArtifactSummary
    from polaris.hub.wire.core import ArtifactKind

__all__ = ["DEFAULT_LIMIT", "QUIET", "ListedArtifact", "format_name", "run_listing"]

#: Default page size of a listing command.
DEFAULT_LIMIT = 100


def format_name(generation: int) -> str:
    """``1`` -> ``"V1"``: the artifact's format (V1 table / V2 Zarr generation), never its version number."""
    return f"V{int(generation)}"


@dataclass(frozen=True)
class ListedArtifact:
    """One row of a listing (also the JSON object printed by ``--json``).

    ``format`` is the generation (``V1``/``V2``); ``version`` the Hub's version number of the artifact (``None``
    when the Hub does not number them).
    """

    artifact: str
    owner: str
    name: str
    kind: str
    format: str
    version: int | None
    access: str | None = None

    @classmethod
    def of(cls, summary: ArtifactSummary) -> ListedArtifact:
        access = summary.extra.get("access")
        return cls(
            artifact=summary.artifact_id,
            owner=summary.owner,
            name=summary.artifact_id.partition("/")[2] or summary.name,
            kind=summary.kind,
            format=format_name(summary.version),
            version=summary.artifact_version,
            access=str(access) if access is not None else None,
        )


LIMIT = typer.Option(DEFAULT_LIMIT, "--limit", min=1, help="Items per page.")
OFFSET = typer.Option(0, "--offset", min=0, help="Items to skip.")
ALL = typer.Option(False, "--all", help="Walk every page.")
FILTER = typer.Option(None, "--filter", help="Only names containing this text (case-insensitive).")
OWNER = typer.Option(
    None, "--owner", help="Only artifacts of this owner (user or organization; `me`: the logged-in user)."
)
JSON = typer.Option(
    False, "--json", help="Print a JSON array of {artifact, owner, name, kind, format, version, access}."
)
QUIET = typer.Option(False, "--quiet", "-q", help="Print only the OWNER/NAME identifiers, one a line.")


def _matches(item: ListedArtifact, text: str | None, owner: str | None) -> bool:
    if owner is not None and item.owner.lower() != owner.lower():
        return False
    return text is None or text.lower() in item.artifact.lower()


def run_listing(
    ctx: typer.Context,
    title: str,
    kind: ArtifactKind,
    *,
    limit: int,
    offset: int,
    everything: bool,
    text: str | None,
    owner: str | None,
    as_json: bool,
    quiet: bool = False,
) -> None:
    """List (V2 and V1 artifacts, as the Hub pages them), filter, page, and print."""
    filtering = text is not None or owner is not None
    with make_client(ctx, progress=False) as client:
        if client.offline:
            from polaris.errors import OfflineError

            raise OfflineError(f"Offline mode is on: listing {title.lower()} needs the Hub, and no request was sent")
        if owner is not None:
            owner = resolve_owner(client, owner)
        if everything or filtering:
            summaries = list(client.iter_artifacts(kind, page_size=limit))
        else:
            summaries = client.list_artifacts(kind, limit=limit, offset=offset)
    rows = [r for r in map(ListedArtifact.of, summaries) if _matches(r, text, owner)]
    if filtering and not everything:
        rows = rows[offset : offset + limit]
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    if quiet:
        for row in rows:
            typer.echo(row.artifact)
        return
    from rich.table import Table

    table = Table(title=f"{title} ({len(rows)})", title_justify="left")
    for column in ("owner", "name", "kind", "format", "version", "access"):
        table.add_column(column)
    for row in rows:
        version = "" if row.version is None else str(row.version)
        table.add_row(row.owner, row.name, row.kind, row.format, version, row.access or "")
    out_console().print(table)

"""``polaris datasets|benchmarks|competitions list``: one typer sub-app per domain."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from polaris.cli._common import friendly_errors, make_client, out_console

if TYPE_CHECKING:
    from collections.abc import Callable

    from polaris.hub.client import PolarisHubClient

__all__ = ["benchmarks_app", "competitions_app", "datasets_app"]

#: Default page size of a listing command.
DEFAULT_LIMIT = 100

datasets_app = typer.Typer(help="Datasets on the Hub.", no_args_is_help=True, pretty_exceptions_enable=False)
benchmarks_app = typer.Typer(help="Benchmarks on the Hub.", no_args_is_help=True, pretty_exceptions_enable=False)
competitions_app = typer.Typer(help="Competitions on the Hub.", no_args_is_help=True, pretty_exceptions_enable=False)


def _show(title: str, items: list[str], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(items))
        return
    from rich.table import Table

    console = out_console()
    table = Table(title=f"{title} ({len(items)})", title_justify="left")
    table.add_column("owner")
    table.add_column("name")
    for item in items:
        owner, _, name = item.partition("/")
        table.add_row(owner, name)
    console.print(table)


def _run(
    ctx: typer.Context,
    title: str,
    page: Callable[[PolarisHubClient, int, int], list[str]],
    walk: Callable[[PolarisHubClient], list[str]],
    limit: int,
    offset: int,
    everything: bool,
    as_json: bool,
) -> None:
    with make_client(ctx) as client:
        items = walk(client) if everything else page(client, limit, offset)
    _show(title, items, as_json)


_LIMIT = typer.Option(DEFAULT_LIMIT, "--limit", min=1, help="Items per page.")
_OFFSET = typer.Option(0, "--offset", min=0, help="Items to skip.")
_ALL = typer.Option(False, "--all", help="Walk every page.")
_JSON = typer.Option(False, "--json", help="Print a JSON array of owner/name instead of a table.")


@datasets_app.command("list")
@friendly_errors
def list_datasets(
    ctx: typer.Context, limit: int = _LIMIT, offset: int = _OFFSET, everything: bool = _ALL, as_json: bool = _JSON
) -> None:
    """List the datasets you can see."""
    _run(
        ctx,
        "Datasets",
        lambda c, lim, off: c.list_datasets(limit=lim, offset=off),
        lambda c: list(c.iter_datasets(page_size=limit)),
        limit,
        offset,
        everything,
        as_json,
    )


@benchmarks_app.command("list")
@friendly_errors
def list_benchmarks(
    ctx: typer.Context, limit: int = _LIMIT, offset: int = _OFFSET, everything: bool = _ALL, as_json: bool = _JSON
) -> None:
    """List the benchmarks you can see."""
    _run(
        ctx,
        "Benchmarks",
        lambda c, lim, off: c.list_benchmarks(limit=lim, offset=off),
        lambda c: list(c.iter_benchmarks(page_size=limit)),
        limit,
        offset,
        everything,
        as_json,
    )


@competitions_app.command("list")
@friendly_errors
def list_competitions(
    ctx: typer.Context, limit: int = _LIMIT, offset: int = _OFFSET, everything: bool = _ALL, as_json: bool = _JSON
) -> None:
    """List the competitions you can see."""
    _run(
        ctx,
        "Competitions",
        lambda c, lim, off: c.list_competitions(limit=lim, offset=off),
        lambda c: list(c.iter_competitions(page_size=limit)),
        limit,
        offset,
        everything,
        as_json,
    )

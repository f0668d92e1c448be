"""``polaris cache ls|verify|rm|prune``: the local download cache (no Hub request is ever made here)."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import typer

from polaris.cli._common import (
    EXIT_FAILURE,
    artifact_id_arg,
    emit_json,
    err_console,
    escape,
    friendly_errors,
    on_interrupt,
    out_console,
)

if TYPE_CHECKING:
    from polaris.hub.cache import CacheEntryInfo, DownloadCache

__all__ = ["app", "parse_duration", "parse_size"]

app = typer.Typer(help="The local download cache: list, verify, remove and prune entries.", no_args_is_help=True)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BINARY_UNITS = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_duration(value: str) -> float:
    """``"90"``, ``"30m"``, ``"12h"``, ``"7d"``, ``"2w"`` -> seconds.

    Raises:
        typer.BadParameter: anything else (a usage error).
    """
    match = _DURATION.match(value)
    if match is None:
        raise typer.BadParameter(f"expected a duration like 90s, 30m, 12h, 7d or 2w; got {value!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]


def parse_size(value: str) -> int:
    """``"500MB"``, ``"2GiB"``, ``"1g"``, ``"1048576"`` -> bytes (KB/MB/GB decimal, KiB/MiB/GiB binary).

    Raises:
        typer.BadParameter: anything else (a usage error).
    """
    match = _SIZE.match(value)
    if match is None:
        raise typer.BadParameter(f"expected a size like 500MB, 2GiB or 1048576; got {value!r}")
    unit = match.group(2).lower()
    prefix = unit[:1] if unit[:1] in _SIZE_UNITS and unit[:1] != "b" else ""
    factor = _BINARY_UNITS[prefix] if "i" in unit and prefix else _SIZE_UNITS[prefix]
    return int(float(match.group(1)) * factor)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="seconds")


def _cache() -> DownloadCache:
    from polaris.hub.cache import DownloadCache

    return DownloadCache()


def _row(info: CacheEntryInfo) -> dict[str, Any]:
    return {
        "kind": info.kind,
        "artifact": info.artifact_id,
        "checksum": info.key.checksum,
        "size_bytes": info.size_bytes,
        "last_used": _when(info.last_used),
        "verified": info.verified,
        "path": str(info.path),
    }


def _select(entries: list[CacheEntryInfo], artifact: str | None, kind: str | None) -> list[CacheEntryInfo]:
    return [
        e
        for e in entries
        if (artifact is None or e.artifact_id == artifact) and (kind is None or e.kind.lower() == kind.lower())
    ]


_ARTIFACT = typer.Argument(None, metavar="[OWNER/NAME]", help="Only this artifact.", callback=artifact_id_arg)
_KIND = typer.Option(None, "--kind", help="Only this kind (dataset, benchmark, competitionDataset...).")


def _table(title: str, rows: list[dict[str, Any]], *, extra: str | None = None) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("kind", "artifact", "checksum", "size", "last used (UTC)", "verified", *([extra] if extra else [])):
        table.add_column(column, justify="right" if column == "size" else "left")
    for row in rows:
        state = "yes" if row["verified"] else "no"
        used = row["last_used"][:16].replace("T", " ")
        cells = [row["kind"], row["artifact"], row["checksum"][:10], _human(row["size_bytes"]), used, state]
        if extra:
            cells.append(str(row.get(extra, "")))
        table.add_row(*cells)
    out_console().print(table)


@app.command("ls")
@friendly_errors
def ls(
    ctx: typer.Context,
    artifact: str | None = _ARTIFACT,
    kind: str | None = _KIND,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array of entries."),
) -> None:
    """List cached entries: kind, artifact, checksum, size, last use and verification state."""
    cache = _cache()
    rows = [_row(e) for e in _select(cache.entries(), artifact, kind)]
    if as_json:
        emit_json(rows)
        return
    total = sum(r["size_bytes"] for r in rows)
    _table(f"Cache {cache.root} ({len(rows)} entries, {_human(total)})", rows)


@app.command("verify")
@friendly_errors
def verify(
    ctx: typer.Context,
    artifact: str | None = _ARTIFACT,
    kind: str | None = _KIND,
    quick: bool = typer.Option(
        False, "--quick", help="Only check the file list, sizes and times (re-hash just the changed files)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array of {entry..., ok, problems}."),
) -> None:
    """Re-hash cached entries against the manifests written when they were stored; exit 1 if any is damaged."""
    on_interrupt(ctx, "Nothing was changed (verifying only reads the cache).")
    cache = _cache()
    rows = []
    for info in _select(cache.entries(), artifact, kind):
        report = cache.verify(info.key, full=not quick, verified=info.verified)
        rows.append({**_row(info), "ok": report.ok, "problems": list(report.problems)})
    bad = [r for r in rows if not r["ok"]]
    if as_json:
        emit_json(rows)
    else:
        for row in rows:
            row["result"] = "ok" if row["ok"] else "DAMAGED: " + "; ".join(row["problems"])
        _table(f"Verified {len(rows)} entries", rows, extra="result")
    if bad:
        err_console().print(
            f"[bold red]Error:[/] {len(bad)} damaged entr{'y' if len(bad) == 1 else 'ies'}\n"
            "[yellow]Hint:[/] Remove them with `polaris cache rm OWNER/NAME`; the next get downloads them again."
        )
        raise typer.Exit(EXIT_FAILURE)


@app.command("rm")
@friendly_errors
def rm(
    ctx: typer.Context,
    artifact: str = typer.Argument(..., metavar="OWNER/NAME", help="The artifact.", callback=artifact_id_arg),
    kind: str | None = _KIND,
    checksum: str | None = typer.Option(None, "--checksum", help="Only the entry with this checksum."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array of the removed entries."),
) -> None:
    """Remove the cached entries of an artifact (every version, unless --checksum)."""
    cache = _cache()
    doomed = [e for e in _select(cache.entries(), artifact, kind) if checksum is None or e.key.checksum == checksum]
    on_interrupt(ctx, "Some entries may be removed already; the others are intact.")
    for info in doomed:
        cache.remove(info.key)
    rows = [_row(e) for e in doomed]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        err_console().print(f"Nothing cached for {escape(artifact)}; nothing to do.")
        return
    freed = sum(r["size_bytes"] for r in rows)
    entries = "entry" if len(rows) == 1 else "entries"
    err_console().print(f"Removed {len(rows)} {entries} of {escape(artifact)} ({_human(freed)}).")


@app.command("prune")
@friendly_errors
def prune(
    ctx: typer.Context,
    older_than: str | None = typer.Option(None, "--older-than", help="Remove entries unused for this long (e.g. 30d)."),
    max_size: str | None = typer.Option(
        None, "--max-size", help="Then remove the least recently used until the cache fits (e.g. 5GB, 500MiB)."
    ),
    everything: bool = typer.Option(False, "--all", help="Remove every entry."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be removed."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array of the removed entries."),
) -> None:
    """Free space: remove entries not used for a while and/or the least recently used beyond a size."""
    if older_than is None and max_size is None and not everything:
        raise typer.BadParameter("give --older-than DURATION, --max-size SIZE or --all", param_hint="options")
    age = parse_duration(older_than) if older_than is not None else None
    limit = parse_size(max_size) if max_size is not None else None
    if everything:
        age, limit = -1.0, 0  # "unused for more than -1 s" is every entry
    on_interrupt(ctx, "Some entries may be removed already; the others are intact.")
    cache = _cache()
    removed = cache.prune(older_than=age, max_bytes=limit, dry_run=dry_run)
    rows = [_row(e) for e in removed]
    if as_json:
        emit_json(rows)
        return
    freed = sum(r["size_bytes"] for r in rows)
    verb = "Would remove" if dry_run else "Removed"
    gone = {(e.key, e.verified) for e in removed}
    left = [e for e in cache.entries() if (e.key, e.verified) not in gone]
    err_console().print(
        f"{verb} {len(rows)} entr{'y' if len(rows) == 1 else 'ies'} ({_human(freed)}); "
        f"{len(left)} entr{'y' if len(left) == 1 else 'ies'} left ({_human(sum(e.size_bytes for e in left))})."
    )
    if rows:
        _table("Pruned" if not dry_run else "Would prune", rows)

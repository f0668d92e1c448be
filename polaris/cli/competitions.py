"""``polaris competitions list|get|evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from polaris.cli import _listing
from polaris.cli._common import (
    DOWNLOAD_INTERRUPTED,
    VerifyChoice,
    artifact_id_arg,
    emit_json,
    friendly_errors,
    make_client,
    on_interrupt,
    show_fields,
)
from polaris.cli.results import print_results_table, results_records

if TYPE_CHECKING:
    from polaris.artifacts import CompetitionSpecification

__all__ = ["app", "read_predictions"]

app = typer.Typer(
    help="Competitions on the Hub (the Hub keeps the test labels and scores predictions).", no_args_is_help=True
)

_VERIFY = typer.Option(
    VerifyChoice.VERIFY_UNLESS_ZARR, "--verify-checksum", help="Whether the content checksum is recomputed."
)


@app.command("list")
@friendly_errors
def list_competitions(
    ctx: typer.Context,
    limit: int = _listing.LIMIT,
    offset: int = _listing.OFFSET,
    everything: bool = _listing.ALL,
    text: str | None = _listing.FILTER,
    owner: str | None = _listing.OWNER,
    as_json: bool = _listing.JSON,
    quiet: bool = _listing.QUIET,
) -> None:
    """List the competitions you can see."""
    _listing.run_listing(
        ctx,
        "Competitions",
        "competition",
        limit=limit,
        offset=offset,
        everything=everything,
        text=text,
        owner=owner,
        as_json=as_json,
        quiet=quiet,
    )


def competition_summary(competition: CompetitionSpecification) -> dict[str, Any]:
    from polaris.cli.benchmarks import task_summary

    summary = task_summary(competition, "competition")
    summary["start"] = competition.start_time.isoformat() if competition.start_time else None
    summary["end"] = competition.end_time.isoformat() if competition.end_time else None
    return summary


@app.command("get")
@friendly_errors
def get_competition(
    ctx: typer.Context,
    artifact: str = typer.Argument(..., metavar="OWNER/NAME", help="The competition.", callback=artifact_id_arg),
    verify_checksum: VerifyChoice = _VERIFY,
    to: Path | None = typer.Option(
        None,
        "--to",
        file_okay=False,
        help="Write train.csv, test.csv (inputs, test order), predictions.csv and predictions.json (templates) here.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="With --to: replace files that are already there."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary (and the files written) as JSON."),
) -> None:
    """Download a competition's dataset (verified, cached; test targets stay on the Hub) and summarise it.

    With ``--to DIR``: also write the training table, the test inputs in test order and a predictions template
    (CSV and JSON); fill one in and send it with ``polaris competitions evaluate``.
    """
    from polaris.cli._tasks import export_task
    from polaris.cli.benchmarks import print_task_files

    on_interrupt(ctx, DOWNLOAD_INTERRUPTED)
    with make_client(ctx) as client:
        competition = client.get_competition(artifact, verify_checksum=verify_checksum.value)
    summary = competition_summary(competition)
    if to is not None:
        summary["files"] = dict(export_task(competition, "competition", artifact, to, overwrite=overwrite))
    if as_json:
        emit_json(summary)
        return
    if to is not None:
        print_task_files(summary["files"], artifact, "competition")
        return
    show_fields(f"Competition {artifact}", summary)


def read_predictions(path: Path, competition: CompetitionSpecification) -> Any:
    """Predictions from a file, checked value by value (see :func:`polaris.cli._tasks.read_predictions`)."""
    from polaris.cli._tasks import read_predictions as read_checked

    return read_checked(path, competition)


@app.command("evaluate")
@friendly_errors
def evaluate_competition(
    ctx: typer.Context,
    artifact: str = typer.Argument(..., metavar="OWNER/NAME", help="The competition.", callback=artifact_id_arg),
    predictions_file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Predictions: CSV (one column per target) or JSON/YAML."
    ),
    name: str | None = typer.Option(None, "--name", help="Name of this submission (default: generated)."),
    report_url: str | None = typer.Option(None, "--report-url", help="A paper or report about the method."),
    description: str | None = typer.Option(None, "--description", help="One line about the submission."),
    as_json: bool = typer.Option(False, "--json", help="Print {competition, name, results} as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the name of the scored submission."),
) -> None:
    """Send predictions for a competition; the Hub scores them against the hidden test labels.

    The file (e.g. the predictions.csv or predictions.json of ``competitions get --to``, filled in) is checked
    value by value against the competition's test sets before it is sent.
    """
    from polaris.cli._tasks import named_artifact

    named = named_artifact(predictions_file, "competition")
    if named is not None and artifact_id_arg(named) != artifact:
        raise typer.BadParameter(
            f"{predictions_file} holds predictions for {named}, not {artifact}", param_hint="PREDICTIONS"
        )
    on_interrupt(ctx, "The predictions were not scored, or were scored already (they go in one request).")
    with make_client(ctx) as client:
        competition = client.get_competition(artifact)
        predictions = read_predictions(predictions_file, competition)
        scored = client.evaluate_competition(
            competition, predictions, name=name, report_url=report_url, description=description
        )
    submission = getattr(scored, "name", None)
    if as_json:
        emit_json({"competition": artifact, "name": submission, "results": results_records(scored.results)})
        return
    if quiet:
        typer.echo(str(submission))
        return
    print_results_table(f"Scores on {artifact}", scored.results)

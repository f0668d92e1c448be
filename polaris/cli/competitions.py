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
    )


def competition_summary(competition: CompetitionSpecification) -> dict[str, Any]:
    return {
        "artifact": competition.artifact_id,
        "kind": "competition",
        "version": int(getattr(competition, "version", 1)),
        "dataset": competition.dataset_artifact_id,
        "inputs": list(competition.input_cols),
        "targets": list(competition.target_cols),
        "train size": competition.n_train_datapoints,
        "test sets": [f"{name} ({size})" for name, size in competition.test_set_sizes.items()],
        "metrics": [m.name for m in competition.metrics],
        "main metric": competition.main_metric,
        "start": competition.start_time.isoformat() if competition.start_time else None,
        "end": competition.end_time.isoformat() if competition.end_time else None,
    }


@app.command("get")
@friendly_errors
def get_competition(
    ctx: typer.Context,
    artifact: str = typer.Argument(..., metavar="OWNER/NAME", help="The competition.", callback=artifact_id_arg),
    verify_checksum: VerifyChoice = _VERIFY,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Download a competition's dataset (verified, cached; test targets stay on the Hub) and summarise it."""
    on_interrupt(ctx, DOWNLOAD_INTERRUPTED)
    with make_client(ctx, progress=not as_json) as client:
        competition = client.get_competition(artifact, verify_checksum=verify_checksum.value)
    summary = competition_summary(competition)
    if as_json:
        emit_json(summary)
        return
    show_fields(f"Competition {artifact}", summary)


def read_predictions(path: Path, competition: CompetitionSpecification) -> Any:
    """Predictions from a file, in a shape ``evaluate_competition`` accepts.

    CSV/TSV: one column per target (and an optional ``test_set`` column when there are several test sets).
    JSON/YAML: ``{test set: {target: [...]}}``, ``{target: [...]}`` or a plain list (one target, one test set).
    """
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        import pandas as pd

        table = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        targets = list(competition.target_cols)
        missing = [t for t in targets if t not in table.columns]
        if missing:
            raise typer.BadParameter(
                f"{path.name} lacks the target column(s) {missing} (columns: {list(table.columns)})",
                param_hint="PREDICTIONS",
            )
        if "test_set" in table.columns:
            return {str(test): {t: group[t].to_numpy() for t in targets} for test, group in table.groupby("test_set")}
        return {competition.test_set_labels[0]: {t: table[t].to_numpy() for t in targets}}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint="PREDICTIONS") from None
    if isinstance(data, dict) and "predictions" in data:
        data = data["predictions"]
    if data is None:
        raise typer.BadParameter(f"{path} holds no predictions", param_hint="PREDICTIONS")
    return data


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
    as_json: bool = typer.Option(False, "--json", help="Print {competition, results} as JSON."),
) -> None:
    """Send predictions for a competition; the Hub scores them against the hidden test labels."""
    on_interrupt(ctx, "The predictions were not scored, or were scored already (they go in one request).")
    with make_client(ctx, progress=not as_json) as client:
        competition = client.get_competition(artifact)
        predictions = read_predictions(predictions_file, competition)
        scored = client.evaluate_competition(
            competition, predictions, name=name, report_url=report_url, description=description
        )
    if as_json:
        emit_json({"competition": artifact, "results": results_records(scored.results)})
        return
    print_results_table(f"Scores on {artifact}", scored.results)

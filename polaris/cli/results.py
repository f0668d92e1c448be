"""``polaris results upload``: send the scores of a model on a benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from polaris.cli._common import (
    AccessChoice,
    artifact_id_arg,
    emit_json,
    err_console,
    escape,
    friendly_errors,
    make_client,
    on_interrupt,
    out_console,
    read_document,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["app", "print_results_table", "results_records"]

app = typer.Typer(help="Benchmark results (scores) on the Hub.", no_args_is_help=True)

_FIELD_ALIASES = {"benchmark": "benchmark_artifact_id", "benchmarkArtifactId": "benchmark_artifact_id"}


def results_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a results table as ``{test_set, target_label, metric, score}`` (NaN -> None)."""
    import math

    rows = []
    for test, target, metric, score in table.itertuples(index=False, name=None):
        value = float(score)
        rows.append(
            {
                "test_set": str(test),
                "target_label": str(target),
                "metric": str(metric),
                "score": None if math.isnan(value) else value,
            }
        )
    return rows


def print_results_table(title: str, table: pd.DataFrame) -> None:
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    for column in ("test set", "target", "metric", "score"):
        out.add_column(column, justify="right" if column == "score" else "left")
    for row in results_records(table):
        score = "NaN" if row["score"] is None else f"{row['score']:.6g}"
        out.add_row(row["test_set"], row["target_label"], row["metric"], score)
    out_console().print(out)


def _score(value: Any) -> float | None:
    """A score cell: a number, or NaN/null for a metric without a value; ``None`` for anything else."""
    import math

    from polaris.tables import check_number

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, str) and value.strip().lower() in ("nan", "null"):
        return math.nan
    return check_number(value)


def _checked_table(path: Path) -> pd.DataFrame:
    """A results table (``Test set, Target label, Metric, Score``), every score a number."""
    from polaris.evaluate.predictions import RESULTS_COLUMNS
    from polaris.tables import InputFileError, line_of, read_table

    table = read_table(path)
    columns = [str(c) for c in table.columns]
    if sorted(columns) != sorted(RESULTS_COLUMNS):
        raise InputFileError(
            path,
            f"has the columns {', '.join(columns)}; a results table has exactly {', '.join(RESULTS_COLUMNS)}",
            line=1 if table.attrs.get("lines") else None,
            hint="Save scores with results.results.to_csv(path, index=False), or give a predictions file "
            "(one column per target, as `benchmarks get --to DIR` writes).",
        )
    scores = []
    for position, value in enumerate(table["Score"]):
        number = _score(value)
        if number is None:
            raise InputFileError(
                path, f"score {value!r} is not a number", line=line_of(table, position), column="Score"
            )
        scores.append(number)
    for column in RESULTS_COLUMNS[:3]:
        for position, value in enumerate(table[column]):
            if value is None or not str(value).strip() or (isinstance(value, float) and value != value):
                raise InputFileError(path, f"{column} is empty", line=line_of(table, position), column=column)
    table["Score"] = scores
    return table


def _checked_records(path: Path, records: Any) -> None:
    """Every score of a results document's ``results:`` is a number (the key of a bad one is named)."""
    from polaris.tables import InputFileError

    if not isinstance(records, list) or not records:
        raise InputFileError(path, "results: must be a non-empty list of scores")
    for i, record in enumerate(records):
        where = f"results[{i}]"
        if isinstance(record, dict) and isinstance(record.get("scores"), dict):
            for metric, value in record["scores"].items():
                if _score(value) is None:
                    raise InputFileError(path, f"{where}.scores.{metric}: {value!r} is not a number")
        elif isinstance(record, dict):
            for key in ("Score", "score"):
                if key in record and _score(record[key]) is None:
                    raise InputFileError(path, f"{where}.{key}: {record[key]!r} is not a number")
        elif isinstance(record, (list, tuple)) and len(record) == 4:
            if _score(record[3]) is None:
                raise InputFileError(path, f"{where}[3]: {record[3]!r} is not a number")
        else:
            raise InputFileError(
                path, f"{where} must be {{test_set, target_label, scores: {{metric: score}}}}; got {record!r}"
            )


def _read_results(path: Path, benchmark: str | None, name: str | None) -> dict[str, Any]:
    from polaris.artifacts import BenchmarkResults
    from polaris.cli._common import model_keys, warn_unknown_keys
    from polaris.tables import TABLE_SUFFIXES

    if path.suffix.lower() in TABLE_SUFFIXES:
        fields: dict[str, Any] = {"results": _checked_table(path)}
    else:
        fields = read_document(str(path))
        for alias, field in _FIELD_ALIASES.items():
            if alias in fields:
                fields[field] = fields.pop(alias)
        known = model_keys(BenchmarkResults) - {"artifact_version", "artifact_changelog", "parent_artifact_id"}
        warn_unknown_keys(str(path), fields, known | {"access"}, "results")
        _checked_records(path, fields.get("results"))
    if benchmark is not None:
        fields["benchmark_artifact_id"] = benchmark
    if name is not None:
        fields["name"] = name
    target = fields.get("benchmark_artifact_id")
    if not isinstance(target, str):
        raise typer.BadParameter(
            "name the benchmark with --benchmark OWNER/NAME (or `benchmark:` in the file)", param_hint="FILE"
        )
    fields["benchmark_artifact_id"] = artifact_id_arg(target)
    return fields


@app.command("upload")
@friendly_errors
def upload_results(
    ctx: typer.Context,
    results_file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="Scores (YAML/JSON with benchmark, name, results; or a CSV with Test set, Target label, Metric, "
        "Score) or predictions (the predictions.csv/.json of `benchmarks get --to`, filled in: scored here first).",
    ),
    benchmark: str | None = typer.Option(None, "--benchmark", help="OWNER/NAME of the benchmark (wins over the file)."),
    name: str | None = typer.Option(None, "--name", help="Name of the results (default: generated)."),
    access: AccessChoice | None = typer.Option(None, "--access", help="Who can see them (default: private)."),
    model: str | None = typer.Option(
        None, "--model", help="OWNER/NAME of the model behind them (0.12+ Hubs).", callback=artifact_id_arg
    ),
    as_json: bool = typer.Option(False, "--json", help="Print {benchmark, name, owner, access, url, results} as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the name of the uploaded results."),
) -> None:
    """Upload the scores of a model on a benchmark; prints their link.

    Give scores (saved from ``benchmark.evaluate``) or predictions: a filled-in predictions.csv/.json of
    ``polaris benchmarks get --to DIR`` is checked value by value, scored here on the benchmark's test set, and
    the scores are uploaded.
    """
    from polaris.artifacts import BenchmarkResults
    from polaris.cli._tasks import is_predictions_file, named_artifact, read_predictions

    on_interrupt(ctx, "The results were not uploaded, or are on the Hub already (results go in one request).")
    if is_predictions_file(results_file):
        target = benchmark or named_artifact(results_file, "benchmark")
        if target is None:
            raise typer.BadParameter(
                "name the benchmark these predictions are for with --benchmark OWNER/NAME", param_hint="FILE"
            )
        target = artifact_id_arg(target)
        chosen_access = access.value if access is not None else "private"
        with make_client(ctx) as client:
            bench = client.get_benchmark(target)
            results = bench.evaluate(read_predictions(results_file, bench))
            if name is not None:
                results.name = name
            uploaded = client.upload_results(results, access=chosen_access, model=model)  # type: ignore[arg-type]
    else:
        fields = _read_results(results_file, benchmark, name)
        chosen_access = access.value if access is not None else str(fields.pop("access", "private"))
        fields.pop("access", None)
        results = BenchmarkResults.model_validate(fields)
        with make_client(ctx) as client:
            uploaded = client.upload_results(results, access=chosen_access, model=model)  # type: ignore[arg-type]
    summary = {
        "benchmark": uploaded.benchmark_artifact_id,
        "name": uploaded.name,
        "owner": uploaded.owner.slug if uploaded.owner is not None else None,
        "access": chosen_access,
        "url": uploaded.hub_url,
        "results": results_records(uploaded.results),
    }
    if as_json:
        emit_json(summary)
        return
    if quiet:
        typer.echo(str(uploaded.name))
        return
    print_results_table(f"Results {uploaded.name} on {uploaded.benchmark_artifact_id}", uploaded.results)
    err_console().print(f"Uploaded results {escape(str(uploaded.name))} ({chosen_access}).")
    if uploaded.hub_url:
        out_console().print(uploaded.hub_url, highlight=False, soft_wrap=True)

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


def _read_results(path: Path, benchmark: str | None, name: str | None) -> dict[str, Any]:
    if path.suffix.lower() in (".csv", ".tsv"):
        import pandas as pd

        table = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
        fields: dict[str, Any] = {"results": table}
    else:
        fields = read_document(str(path))
        for alias, field in _FIELD_ALIASES.items():
            if alias in fields:
                fields[field] = fields.pop(alias)
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
        help="YAML/JSON (benchmark, name, results, ...) or a CSV with Test set, Target label, Metric, Score.",
    ),
    benchmark: str | None = typer.Option(None, "--benchmark", help="OWNER/NAME of the benchmark (wins over the file)."),
    name: str | None = typer.Option(None, "--name", help="Name of the results (default: generated)."),
    access: AccessChoice | None = typer.Option(None, "--access", help="Who can see them (default: private)."),
    model: str | None = typer.Option(
        None, "--model", help="OWNER/NAME of the model behind them (0.12+ Hubs).", callback=artifact_id_arg
    ),
    as_json: bool = typer.Option(False, "--json", help="Print {benchmark, name, url, results} as JSON."),
) -> None:
    """Upload the scores of a model on a benchmark (e.g. saved from benchmark.evaluate); prints their link."""
    from polaris.artifacts import BenchmarkResults

    fields = _read_results(results_file, benchmark, name)
    chosen_access = access.value if access is not None else str(fields.pop("access", "private"))
    fields.pop("access", None)
    results = BenchmarkResults.model_validate(fields)
    on_interrupt(ctx, "The results were not uploaded, or are on the Hub already (results go in one request).")
    with make_client(ctx, progress=not as_json) as client:
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
    print_results_table(f"Results {uploaded.name} on {uploaded.benchmark_artifact_id}", uploaded.results)
    err_console().print(f"Uploaded results {escape(str(uploaded.name))} ({chosen_access}).")
    if uploaded.hub_url:
        out_console().print(uploaded.hub_url, highlight=False, soft_wrap=True)

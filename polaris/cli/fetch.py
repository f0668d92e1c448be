"""``polaris datasets get`` and ``polaris benchmarks get``: download (verified, cached) and summarise."""

from __future__ import annotations

import json
from typing import Any

import typer

from polaris.cli._common import friendly_errors, make_client, out_console
from polaris.cli.listing import benchmarks_app, datasets_app

__all__ = ["get_benchmark", "get_dataset"]

_VERIFY = typer.Option(
    "verify_unless_zarr",
    "--verify-checksum",
    help="verify | verify_unless_zarr | ignore: whether the content checksum is recomputed after download.",
)
_JSON = typer.Option(False, "--json", help="Print the summary as JSON.")


def _print(title: str, summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in summary.items():
        table.add_row(key, ", ".join(map(str, value)) if isinstance(value, list) else str(value))
    out_console().print(table)


@datasets_app.command("get")
@friendly_errors
def get_dataset(
    ctx: typer.Context,
    artifact: str = typer.Argument(..., help="owner/name of the dataset."),
    verify_checksum: str = _VERIFY,
    as_json: bool = _JSON,
) -> None:
    """Download a dataset into the local cache (every file verified) and summarise it."""
    from polaris.artifacts import DatasetV1

    with make_client(ctx) as client:
        client.show_progress = not as_json
        dataset = client.get_dataset(artifact, verify_checksum=verify_checksum)  # type: ignore[arg-type]
    summary: dict[str, Any] = {
        "artifact": dataset.artifact_id,
        "version": 1 if isinstance(dataset, DatasetV1) else 2,
        "rows": dataset.n_rows,
        "columns": dataset.columns,
        "license": dataset.license,
    }
    if isinstance(dataset, DatasetV1):
        summary["md5Sum"] = dataset.md5sum
        summary["pointer columns"] = dataset.pointer_columns
    else:
        summary["zarrManifestMd5Sum"] = dataset.zarr_manifest_md5sum
    if dataset.zarr_root_path:
        summary["local zarr"] = dataset.zarr_root_path
    _print(f"Dataset {artifact}", summary, as_json)


@benchmarks_app.command("get")
@friendly_errors
def get_benchmark(
    ctx: typer.Context,
    artifact: str = typer.Argument(..., help="owner/name of the benchmark."),
    verify_checksum: str = _VERIFY,
    as_json: bool = _JSON,
) -> None:
    """Download a benchmark and its dataset (verified, cached) and summarise its split and metrics."""
    with make_client(ctx) as client:
        client.show_progress = not as_json
        benchmark = client.get_benchmark(artifact, verify_checksum=verify_checksum)  # type: ignore[arg-type]
    summary: dict[str, Any] = {
        "artifact": benchmark.artifact_id,
        "dataset": benchmark.dataset_artifact_id,
        "task": benchmark.task_type,
        "inputs": list(benchmark.input_cols),
        "targets": list(benchmark.target_cols),
        "train size": benchmark.n_train_datapoints,
        "test sets": [f"{name} ({size})" for name, size in benchmark.test_set_sizes.items()],
        "metrics": [m.name for m in benchmark.metrics],
        "main metric": benchmark.main_metric,
        "md5Sum": getattr(benchmark, "md5sum", None),  # V2 benchmarks have none (their index sets carry md5s)
    }
    _print(f"Benchmark {artifact}", summary, as_json)

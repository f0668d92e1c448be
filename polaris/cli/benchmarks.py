"""``polaris benchmarks list|get|upload``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer

from polaris.cli import _listing
from polaris.cli._common import (
    DOWNLOAD_INTERRUPTED,
    AccessChoice,
    VerifyChoice,
    artifact_id_arg,
    emit_json,
    err_console,
    escape,
    friendly_errors,
    make_client,
    on_interrupt,
    out_console,
    read_document,
    resolve_owner,
    show_fields,
)

if TYPE_CHECKING:
    from polaris.artifacts import BenchmarkSpecification, DatasetV1, DatasetV2
    from polaris.artifacts.benchmark_v2 import BenchmarkV2Specification

__all__ = ["app", "benchmark_from_spec", "benchmark_summary"]

app = typer.Typer(help="Benchmarks on the Hub.", no_args_is_help=True)

_VERIFY = typer.Option(
    VerifyChoice.VERIFY_UNLESS_ZARR, "--verify-checksum", help="Whether the content checksum is recomputed."
)


@app.command("list")
@friendly_errors
def list_benchmarks(
    ctx: typer.Context,
    limit: int = _listing.LIMIT,
    offset: int = _listing.OFFSET,
    everything: bool = _listing.ALL,
    text: str | None = _listing.FILTER,
    owner: str | None = _listing.OWNER,
    as_json: bool = _listing.JSON,
    quiet: bool = _listing.QUIET,
) -> None:
    """List the benchmarks you can see, with their kind and version."""
    _listing.run_listing(
        ctx,
        "Benchmarks",
        "benchmark",
        limit=limit,
        offset=offset,
        everything=everything,
        text=text,
        owner=owner,
        as_json=as_json,
        quiet=quiet,
    )


def task_summary(task: Any, kind: str) -> dict[str, Any]:
    """The fields a benchmark and a competition share (snake_case; sizes as ``{test set: rows}``)."""
    from polaris.cli._listing import format_name

    return {
        "artifact": task.artifact_id,
        "kind": kind,
        "format": format_name(2 if type(task).__name__ in _V2_TYPES else 1),
        "version": task.artifact_version,
        "dataset": task.dataset_artifact_id,
        "task": task.task_type,
        "inputs": list(task.input_cols),
        "targets": list(task.target_cols),
        "target_types": {str(k): str(v) for k, v in (getattr(task, "target_types", None) or {}).items()},
        "train_size": task.n_train_datapoints,
        "test_sizes": {str(name): int(size) for name, size in task.test_set_sizes.items()},
        "metrics": [m.name for m in task.metrics],
        "main_metric": task.main_metric,
    }


#: Types whose format is V2 (a Zarr dataset with Roaring index sets, or a 0.11+ Zarr competition).
_V2_TYPES = {"BenchmarkV2Specification", "ZarrCompetitionSpecification"}


def benchmark_summary(benchmark: BenchmarkSpecification | BenchmarkV2Specification) -> dict[str, Any]:
    summary = task_summary(benchmark, "benchmark")
    summary["md5sum"] = getattr(benchmark, "md5sum", None)  # V2 benchmarks have none (their index sets carry md5s)
    from polaris.artifacts import BenchmarkV2Specification

    if isinstance(benchmark, BenchmarkV2Specification):  # Roaring index sets, each verified by its md5
        split = benchmark.split
        summary["index_set_md5sums"] = {"training": split.training.md5_checksum, "test": split.test.md5_checksum}
    return summary


def print_task_files(files: dict[str, str], artifact: str, kind: str) -> None:
    """Where ``get --to`` wrote the task's files, and the next step."""
    err_console().print(
        f"Wrote the training table, the test inputs (in test order) and the predictions templates of "
        f"{escape(artifact)}:",
        highlight=False,
    )
    for path in files.values():
        typer.echo(path)
    if kind == "competition":
        step = f"polaris competitions evaluate {artifact} {files['predictions_csv']}"
    else:
        step = f"polaris results upload {files['predictions_csv']} --benchmark {artifact}"
    err_console().print(f"Fill in a predictions template, then: {escape(step)}", highlight=False)


_TO = typer.Option(
    None,
    "--to",
    file_okay=False,
    help="Write train.csv, test.csv (inputs, test order), predictions.csv and predictions.json (templates) here.",
)
_OVERWRITE = typer.Option(False, "--overwrite", help="With --to: replace files that are already there.")


@app.command("get")
@friendly_errors
def get_benchmark(
    ctx: typer.Context,
    artifact: str = typer.Argument(..., metavar="OWNER/NAME", help="The benchmark.", callback=artifact_id_arg),
    verify_checksum: VerifyChoice = _VERIFY,
    to: Path | None = _TO,
    overwrite: bool = _OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the summary (and the files written) as JSON."),
) -> None:
    """Download a benchmark and its dataset (verified, cached) and summarise its split and metrics.

    With ``--to DIR``: also write the training table, the test inputs in test order and a predictions template
    (CSV and JSON); fill one in and send it with ``polaris results upload``.
    """
    from polaris.cli._tasks import export_task

    on_interrupt(ctx, DOWNLOAD_INTERRUPTED)
    with make_client(ctx) as client:
        benchmark = client.get_benchmark(artifact, verify_checksum=verify_checksum.value)
    summary = benchmark_summary(benchmark)
    if to is not None:
        summary["files"] = dict(export_task(benchmark, "benchmark", artifact, to, overwrite=overwrite))
    if as_json:
        emit_json(summary)
        return
    if to is not None:
        print_task_files(summary["files"], artifact, "benchmark")
        return
    show_fields(f"Benchmark {artifact}", summary)


@app.command("info")
@friendly_errors
def benchmark_info(
    ctx: typer.Context,
    artifact: str = typer.Argument(..., metavar="OWNER/NAME", help="The benchmark.", callback=artifact_id_arg),
    as_json: bool = typer.Option(False, "--json", help="Print the metadata as JSON."),
) -> None:
    """Show a benchmark's metadata (format, version, dataset, task, metrics) without downloading any data."""
    from polaris.cli.datasets import metadata_summary

    with make_client(ctx, progress=False) as client:
        generation, data = client.get_artifact_metadata("benchmark", artifact)
    summary = metadata_summary("benchmark", generation, data)
    summary["artifact"] = summary["artifact"] or artifact
    dataset = data.get("datasetArtifactId") or data.get("dataset") or {}
    summary["dataset"] = dataset if isinstance(dataset, str) else dataset.get("artifactId")
    summary["inputs"] = list(data.get("inputCols") or [])
    summary["targets"] = list(data.get("targetCols") or [])
    metrics = data.get("metrics") or []
    summary["metrics"] = [m.get("name", m.get("label")) if isinstance(m, dict) else str(m) for m in metrics]
    main = data.get("mainMetric")
    summary["main_metric"] = main.get("name", main.get("label")) if isinstance(main, dict) else main
    summary["md5sum"] = data.get("md5Sum")
    if as_json:
        emit_json(summary)
        return
    show_fields(f"Benchmark {artifact}", summary)


def _split_from_spec(spec: Any, n_rows: int) -> list[Any]:
    """``{train: [...], test: [...] | {name: [...]}}``, ``[train, test]`` or ``{random: {test_fraction, seed}}``."""
    import numpy as np

    if isinstance(spec, dict) and "random" in spec:
        options = spec["random"] or {}
        fraction = float(options.get("test_fraction", 0.2))
        if not 0.0 < fraction < 1.0:
            raise typer.BadParameter("split.random.test_fraction must be between 0 and 1", param_hint="SPEC")
        order = np.random.default_rng(int(options.get("seed", 0))).permutation(n_rows)
        n_test = max(1, round(n_rows * fraction))
        return [sorted(order[n_test:].tolist()), {"test": sorted(order[:n_test].tolist())}]
    if isinstance(spec, dict) and "train" in spec and "test" in spec:
        return [spec["train"], spec["test"]]
    if isinstance(spec, list) and len(spec) == 2:
        return spec
    raise typer.BadParameter(
        "split must be {train: [...], test: [...] or {name: [...]}}, [train, test] or "
        "{random: {test_fraction: 0.2, seed: 42}}",
        param_hint="SPEC",
    )


def benchmark_from_spec(
    spec: dict[str, Any], dataset: DatasetV1 | DatasetV2
) -> BenchmarkSpecification | BenchmarkV2Specification:
    """A benchmark from a spec file's fields and its (downloaded) dataset: V1 on a V1 dataset, V2 on a V2 one."""
    from polaris.artifacts import BenchmarkSpecification, DatasetV1
    from polaris.artifacts.benchmark_v2 import BenchmarkV2Specification

    fields = {k: v for k, v in spec.items() if k not in ("dataset", "split", "access", "owner", "parent")}
    fields["split"] = _split_from_spec(spec.get("split"), dataset.n_rows or 0)
    fields["owner"] = spec.get("owner")
    if isinstance(dataset, DatasetV1):
        v1: BenchmarkSpecification = BenchmarkSpecification.from_wire(fields, dataset=dataset)
        return v1
    v2: BenchmarkV2Specification = BenchmarkV2Specification.from_wire(fields, dataset=dataset)
    return v2


@app.command("upload")
@friendly_errors
def upload_benchmark(
    ctx: typer.Context,
    spec_file: Path = typer.Argument(..., exists=True, dir_okay=False, help="YAML/JSON benchmark specification."),
    owner: str | None = typer.Option(
        None, "--owner", help="Owner (wins over the spec's owner; default and `me`: the logged-in user)."
    ),
    access: AccessChoice | None = typer.Option(None, "--access", help="Who can see it (default: spec, else private)."),
    parent: str | None = typer.Option(
        None, "--parent", help="OWNER/NAME of the benchmark this is a new version of.", callback=artifact_id_arg
    ),
    as_json: bool = typer.Option(False, "--json", help="Print {artifact, format, version, dataset, url} as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the OWNER/NAME of the uploaded benchmark."),
) -> None:
    """Upload a benchmark described by a YAML/JSON spec; its dataset must already be on the Hub.

    On a V2 (Zarr) dataset the benchmark is a V2 benchmark (one test set, index sets sent to storage).

    The spec names ``name``, ``owner``, ``dataset`` (OWNER/NAME), ``input_cols``, ``target_cols``,
    ``target_types``, ``metrics``, ``main_metric`` and ``split`` (``{train: [...], test: [...]}`` or
    ``{random: {test_fraction: 0.2, seed: 42}}``).
    """
    from polaris.types import AccessType, slugify

    spec = read_document(str(spec_file))
    if owner is not None:
        spec["owner"] = owner
    if spec.get("owner") is not None and not isinstance(spec.get("owner"), str):
        raise typer.BadParameter(f"owner must be text; got {spec['owner']!r}", param_hint="SPEC")
    dataset_id = spec.get("dataset")
    if not isinstance(dataset_id, str):
        raise typer.BadParameter("the spec must name its dataset as OWNER/NAME (dataset: ...)", param_hint="SPEC")
    dataset_id = artifact_id_arg(dataset_id)
    chosen_access = access.value if access is not None else str(spec.get("access", "private"))
    on_interrupt(ctx, "The benchmark was not uploaded (a benchmark is sent in one request at the end).")
    with make_client(ctx) as client:
        spec["owner"] = resolve_owner(client, spec.get("owner"))
        dataset = client.get_dataset(dataset_id)
        benchmark = benchmark_from_spec(spec, dataset)
        client.upload_benchmark(
            benchmark,
            access=cast("AccessType", chosen_access),
            owner=str(spec["owner"]),
            parent_artifact_id=parent,
        )
        assert benchmark.owner is not None and benchmark.name
        url = client.settings.web_url("benchmarks", benchmark.owner.slug, slugify(benchmark.name))
    artifact_id = f"{benchmark.owner.slug}/{slugify(benchmark.name)}"
    result: dict[str, Any] = {
        "artifact": artifact_id,
        "kind": "benchmark",
        "format": "V2" if type(benchmark).__name__ in _V2_TYPES else "V1",
        "version": benchmark.artifact_version,
        "dataset": dataset_id,
        "access": chosen_access,
        "url": url,
    }
    if as_json:
        emit_json(result)
        return
    if quiet:
        typer.echo(artifact_id)
        return
    err_console().print(f"Uploaded benchmark {escape(artifact_id)} on {escape(dataset_id)}.")
    out_console().print(url, highlight=False, soft_wrap=True)

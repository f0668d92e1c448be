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
    )


def benchmark_summary(benchmark: BenchmarkSpecification | BenchmarkV2Specification) -> dict[str, Any]:
    summary = {
        "artifact": benchmark.artifact_id,
        "kind": "benchmark",
        "version": int(getattr(benchmark, "version", 1)),
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
    from polaris.artifacts import BenchmarkV2Specification

    if isinstance(benchmark, BenchmarkV2Specification):  # Roaring index sets, each verified by its md5
        split = benchmark.split
        summary["index sets md5"] = {"training": split.training.md5_checksum, "test": split.test.md5_checksum}
    return summary


@app.command("get")
@friendly_errors
def get_benchmark(
    ctx: typer.Context,
    artifact: str = typer.Argument(..., metavar="OWNER/NAME", help="The benchmark.", callback=artifact_id_arg),
    verify_checksum: VerifyChoice = _VERIFY,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Download a benchmark and its dataset (verified, cached) and summarise its split and metrics."""
    on_interrupt(ctx, DOWNLOAD_INTERRUPTED)
    with make_client(ctx, progress=not as_json) as client:
        benchmark = client.get_benchmark(artifact, verify_checksum=verify_checksum.value)
    summary = benchmark_summary(benchmark)
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
    owner: str | None = typer.Option(None, "--owner", help="Owner (wins over the spec's owner)."),
    access: AccessChoice | None = typer.Option(None, "--access", help="Who can see it (default: spec, else private)."),
    parent: str | None = typer.Option(
        None, "--parent", help="OWNER/NAME of the benchmark this is a new version of.", callback=artifact_id_arg
    ),
    as_json: bool = typer.Option(False, "--json", help="Print {artifact, dataset, url} as JSON."),
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
    if not spec.get("owner"):
        raise typer.BadParameter("the spec (or --owner) must name the benchmark's owner", param_hint="SPEC")
    dataset_id = spec.get("dataset")
    if not isinstance(dataset_id, str):
        raise typer.BadParameter("the spec must name its dataset as OWNER/NAME (dataset: ...)", param_hint="SPEC")
    dataset_id = artifact_id_arg(dataset_id)
    chosen_access = access.value if access is not None else str(spec.get("access", "private"))
    on_interrupt(ctx, "The benchmark was not uploaded (a benchmark is sent in one request at the end).")
    with make_client(ctx, progress=not as_json) as client:
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
        "version": int(getattr(benchmark, "version", 1)),
        "dataset": dataset_id,
        "access": chosen_access,
        "url": url,
    }
    if as_json:
        emit_json(result)
        return
    err_console().print(f"Uploaded benchmark {escape(artifact_id)} on {escape(dataset_id)}.")
    out_console().print(url, highlight=False, soft_wrap=True)

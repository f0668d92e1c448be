"""What V1 and V2 benchmarks (and competitions) share: the dataset reference, metric checks, upload and JSON files.

:class:`DatasetReference` is re-exported by :mod:`polaris.artifacts.benchmark` and :mod:`polaris.artifacts`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

from polaris.artifacts._hub_calls import hub_client, sort_upload_args
from polaris.errors import InvalidArtifactError
from polaris.evaluate import Metric
from polaris.types import HubOwner, slugify

__all__ = [
    "DatasetReference",
    "benchmark_from_json",
    "benchmark_to_json",
    "metric_name",
    "resolve_main_metric",
    "unique_metrics",
    "upload_benchmark_to_hub",
]


def upload_benchmark_to_hub(
    benchmark: Any,
    settings: Any,
    cache_auth_token: bool,
    access: Any,
    owner: Any,
    *,
    parent_artifact_id: str | None = None,
    **client_kwargs: Any,
) -> dict[str, Any]:
    """``benchmark.upload_to_hub`` of V1 and V2 benchmarks: one client for the call, arguments sorted by kind."""
    settings, access, owner = sort_upload_args(settings, access, owner)
    with hub_client(settings, cache_auth_token, **client_kwargs) as client:
        answer: dict[str, Any] = client.upload_benchmark(
            benchmark, access=access, owner=owner, parent_artifact_id=parent_artifact_id
        )
        return answer


def benchmark_to_json(benchmark: Any, destination: str | os.PathLike[str]) -> str:
    """``benchmark.to_json`` of V1 and V2 benchmarks: ``benchmark.json`` next to the dataset's folder."""
    import json
    from pathlib import Path

    dataset = benchmark.dataset
    if dataset is None or not hasattr(dataset, "to_json"):
        raise InvalidArtifactError("the benchmark's dataset is not loaded, so it cannot be saved with it")
    folder = Path(destination)
    folder.mkdir(parents=True, exist_ok=True)
    dataset_path = Path(dataset.to_json(folder, dir_name="dataset"))
    data = benchmark.model_dump(mode="json")
    data["dataset"] = str(dataset_path.relative_to(folder))
    split = data.get("split")
    if isinstance(split, dict):  # V2: the index sets' rows, not only their size and checksum
        data["split"] = {key: list(s.indices) for key, s in benchmark.split.index_sets().items()}
    path = folder / "benchmark.json"
    path.write_text(json.dumps(data, indent=2))
    return str(path)


def benchmark_from_json(cls: Any, path: str | os.PathLike[str], dataset_cls: Any) -> Any:
    """``Benchmark.from_json``: the dataset is read (as ``dataset_cls``) from the path the file names."""
    import json
    from pathlib import Path

    from polaris.artifacts.benchmark import BenchmarkSpecification

    file = Path(path)
    data = json.loads(file.read_text())
    dataset = data.get("dataset")
    if isinstance(dataset, str):
        data["dataset"] = dataset_cls.from_json(file.parent / dataset)
    return cls.model_validate(data) if cls is not BenchmarkSpecification else cls.from_wire(data)


def unique_metrics(value: list[Metric]) -> list[Metric]:
    """At least one metric, no name twice (shared by V1 and V2 benchmarks)."""
    if not value:
        raise ValueError("at least one metric is required")
    names = [m.name for m in value]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"metric names must be unique; duplicated: {dupes}")
    return value


def metric_name(value: Any) -> Any:
    """A metric given as a Metric or a mapping, as its name (anything else unchanged)."""
    if isinstance(value, Metric):
        return value.name
    if isinstance(value, Mapping):
        return Metric.model_validate(value).name
    return value


def resolve_main_metric(metrics: list[Metric], main_metric: str | None) -> str:
    """The main metric: the only metric when none is named; otherwise it must be one of ``metrics``."""
    names = [m.name for m in metrics]
    if main_metric is None:
        if len(metrics) != 1:
            raise ValueError(f"main_metric is required when there are several metrics (one of {names})")
        return names[0]
    if main_metric not in names:
        raise ValueError(f"main_metric {main_metric!r} is not one of the metrics {names}")
    return main_metric


class DatasetReference(BaseModel):
    """The ``dataset`` object of a benchmark GET response: owner and name (other keys ignored)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    owner: HubOwner
    name: str

    @field_validator("owner", mode="before")
    @classmethod
    def _owner(cls, value: Any) -> Any:
        return HubOwner(slug=value) if isinstance(value, str) else value

    @property
    def artifact_id(self) -> str:
        return f"{self.owner.slug}/{slugify(self.name)}"

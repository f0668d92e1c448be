"""Hub artifacts as pydantic models: datasets, benchmarks (V1 and V2), models, results and competitions.

Each model has ``to_wire()`` (the JSON body the Hub expects) and ``from_wire(data, **overrides)``
(parses what the Hub returns).
"""

from polaris.artifacts._base import BaseArtifactModel, VersionedArtifactModel, package_version
from polaris.artifacts._zarr_subset import ZarrSubset
from polaris.artifacts.benchmark import (
    BenchmarkSpecification,
    DatasetReference,
    MultiTaskBenchmarkSpecification,
    SingleTaskBenchmarkSpecification,
    Subset,
)
from polaris.artifacts.benchmark_v2 import BenchmarkV2Specification, SplitV2
from polaris.artifacts.competition import (
    CompetitionPredictions,
    CompetitionSpecification,
    ZarrCompetitionSpecification,
)
from polaris.artifacts.dataset import (
    Adapter,
    ColumnAnnotation,
    CompetitionDataset,
    DatasetV1,
    DatasetV2,
    Modality,
    parse_pointer,
)
from polaris.artifacts.index_set import IndexSet
from polaris.artifacts.model import Model
from polaris.artifacts.results import BenchmarkResults, CompetitionResults

__all__ = [
    "Adapter",
    "BaseArtifactModel",
    "BenchmarkResults",
    "BenchmarkSpecification",
    "BenchmarkV2Specification",
    "ColumnAnnotation",
    "CompetitionDataset",
    "CompetitionPredictions",
    "CompetitionResults",
    "CompetitionSpecification",
    "DatasetReference",
    "DatasetV1",
    "DatasetV2",
    "IndexSet",
    "Modality",
    "Model",
    "MultiTaskBenchmarkSpecification",
    "SingleTaskBenchmarkSpecification",
    "SplitV2",
    "Subset",
    "VersionedArtifactModel",
    "ZarrCompetitionSpecification",
    "ZarrSubset",
    "package_version",
    "parse_pointer",
]

"""Hub artifacts as pydantic models: datasets, benchmarks, results and competitions.

Each model has ``to_wire()`` (the JSON body the Hub expects) and ``from_wire(data, **overrides)``
(parses what the Hub returns).
"""

from polaris.artifacts._base import BaseArtifactModel, package_version
from polaris.artifacts.benchmark import (
    BenchmarkSpecification,
    DatasetReference,
    MultiTaskBenchmarkSpecification,
    SingleTaskBenchmarkSpecification,
    Subset,
)
from polaris.artifacts.competition import CompetitionPredictions, CompetitionSpecification
from polaris.artifacts.dataset import (
    Adapter,
    ColumnAnnotation,
    CompetitionDataset,
    DatasetV1,
    DatasetV2,
    Modality,
    parse_pointer,
)
from polaris.artifacts.results import BenchmarkResults, CompetitionResults

__all__ = [
    "Adapter",
    "BaseArtifactModel",
    "BenchmarkResults",
    "BenchmarkSpecification",
    "ColumnAnnotation",
    "CompetitionDataset",
    "CompetitionPredictions",
    "CompetitionResults",
    "CompetitionSpecification",
    "DatasetReference",
    "DatasetV1",
    "DatasetV2",
    "Modality",
    "MultiTaskBenchmarkSpecification",
    "SingleTaskBenchmarkSpecification",
    "Subset",
    "package_version",
    "parse_pointer",
]

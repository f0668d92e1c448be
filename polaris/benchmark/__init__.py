"""polaris-lib's ``polaris.benchmark``: the benchmark classes (the same objects as :mod:`polaris.artifacts`).

Generations: ``BenchmarkSpecification``, ``SingleTaskBenchmarkSpecification`` and
``MultiTaskBenchmarkSpecification`` are 0.10 names kept by 0.11-0.13. ``BenchmarkV2Specification`` (0.12-0.13) and
0.11's ``SingleTaskBenchmarkV2Specification``/``MultiTaskBenchmarkV2Specification`` are one class here (the number
of targets is free); ``SplitV2`` and ``IndexSet`` are the V2 split (0.12-0.13 ``polaris.benchmark._split_v2``).
"""

from __future__ import annotations

from polaris.artifacts.benchmark import (
    BenchmarkSpecification,
    MultiTaskBenchmarkSpecification,
    SingleTaskBenchmarkSpecification,
)
from polaris.artifacts.benchmark_v2 import BenchmarkV2Specification, SplitV2
from polaris.artifacts.index_set import IndexSet

__all__ = [
    "BenchmarkSpecification",
    "BenchmarkV2Specification",
    "IndexSet",
    "MultiTaskBenchmarkSpecification",
    "MultiTaskBenchmarkV2Specification",
    "SingleTaskBenchmarkSpecification",
    "SingleTaskBenchmarkV2Specification",
    "SplitV2",
]

#: polaris-lib 0.11's single-task V2 benchmark: :class:`BenchmarkV2Specification`
SingleTaskBenchmarkV2Specification = BenchmarkV2Specification
#: polaris-lib 0.11's multi-task V2 benchmark: :class:`BenchmarkV2Specification`
MultiTaskBenchmarkV2Specification = BenchmarkV2Specification

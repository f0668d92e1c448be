"""polaris-lib 0.12-0.13's ``polaris.benchmark._benchmark_v2`` path, which the V2 tutorials import
``BenchmarkV2Specification`` from: the same object as :mod:`polaris.artifacts`'."""

from __future__ import annotations

from polaris.artifacts.benchmark_v2 import BenchmarkV2Specification

__all__ = ["BenchmarkV2Specification"]

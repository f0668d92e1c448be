"""polaris-lib 0.12-0.13's ``polaris.benchmark._split_v2`` path, which the V2 tutorials import ``SplitV2`` and
``IndexSet`` from: the same objects as :mod:`polaris.artifacts`'."""

from __future__ import annotations

from polaris.artifacts.benchmark_v2 import SplitV2
from polaris.artifacts.index_set import IndexSet

__all__ = ["IndexSet", "SplitV2"]

"""Checksums exactly as the Polaris Hub computes them: the documented entry point.

* :func:`table_md5` / :func:`dataset_md5` / :func:`row_hashes` — the DatasetV1 ``md5Sum`` (in
  :mod:`polaris.checksum_rows`).
* :func:`zarr_tree_digest`, :func:`write_zarr_manifest` / :func:`read_zarr_manifest` — Zarr digests and the DatasetV2
  manifest Parquet (in :mod:`polaris.checksum_zarr`).
* :func:`file_md5` / :func:`md5_b64` / :func:`is_md5` — md5 of files and bytes (in :mod:`polaris.checksum_md5`).
* :func:`benchmark_md5` — the benchmark ``md5Sum``; :func:`index_set_md5` — the ``md5Checksum`` of a V2 benchmark's
  serialised Roaring index set.
* :func:`should_verify` / :func:`verify_md5` — the checksum strategies and the one place a mismatch becomes an error.

Heavy libraries (numpy, pandas, pyarrow) are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from polaris.checksum_md5 import file_md5, is_md5, md5_b64
from polaris.checksum_rows import dataset_md5, row_hashes, table_md5
from polaris.checksum_zarr import (
    ZarrFileEntry,
    read_zarr_manifest,
    write_zarr_manifest,
    zarr_manifest_entries,
    zarr_tree_digest,
    zarr_tree_digest_from_entries,
)
from polaris.errors import PolarisChecksumError
from polaris.types import ChecksumStrategy

__all__ = [
    "ZarrFileEntry",
    "benchmark_md5",
    "dataset_md5",
    "file_md5",
    "index_set_md5",
    "is_md5",
    "md5_b64",
    "metric_checksum_strings",
    "read_zarr_manifest",
    "row_hashes",
    "should_verify",
    "table_md5",
    "verify_md5",
    "write_zarr_manifest",
    "zarr_manifest_entries",
    "zarr_tree_digest",
    "zarr_tree_digest_from_entries",
]


def index_set_md5(serialized: bytes) -> str:
    """The Hub's ``md5Checksum`` of an index set: md5 hex of its portable Roaring bytes (0.11-0.13 facts, 5.5)."""
    return hashlib.md5(serialized).hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------------------------------------------------


def metric_checksum_strings(metrics: Iterable[Any]) -> list[str]:
    """Sorted checksum strings of metrics given as objects with ``checksum_string()``, wire dicts or labels."""
    out: list[str] = []
    for metric in metrics:
        if isinstance(metric, str):
            out.append(metric)
        elif isinstance(metric, Mapping):
            config = metric.get("config")
            if config:
                full = {"aggregation": "mean", "default": None, "on_error": "raise", **dict(config)}
                out.append(str(metric["label"]) + json.dumps(full, sort_keys=True))
            else:
                out.append(str(metric["label"]))
        else:
            out.append(str(metric.checksum_string()))
    return sorted(out)


def benchmark_md5(
    dataset_md5: str,
    target_cols: Iterable[str],
    input_cols: Iterable[str],
    metrics: Iterable[Any],
    split: tuple[Sequence[int], Mapping[str, Sequence[int]]] | Sequence[Any],
) -> str:
    """Benchmark ``md5Sum`` (section 7.5).

    ``metrics``: :class:`polaris.evaluate.Metric` objects, wire dicts or labels. ``split``: ``(train, {name: indices})``
    or ``(train, test_indices)`` (a single test set named ``test``).

    Raises:
        ValueError: ``split`` is not a pair.
    """
    if len(split) != 2:
        raise ValueError("split must be (train indices, test indices or {name: indices})")
    train, test = split[0], split[1]
    if not isinstance(test, Mapping):
        test = {"test": test}
    md5 = hashlib.md5()
    md5.update(dataset_md5.encode("utf-8"))
    for col in sorted(target_cols):
        md5.update(col.encode("utf-8"))
    for col in sorted(input_cols):
        md5.update(col.encode("utf-8"))
    for text in metric_checksum_strings(metrics):
        md5.update(text.encode("utf-8"))
    md5.update(json.dumps(sorted(int(i) for i in train)).encode("utf-8"))
    for name in sorted(test):
        md5.update(str(name).encode("utf-8"))
        md5.update(json.dumps(sorted(int(i) for i in test[name])).encode("utf-8"))
    return md5.hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------------------------

_STRATEGIES: tuple[str, ...] = ("verify", "verify_unless_zarr", "ignore")


def should_verify(strategy: ChecksumStrategy, *, has_zarr: bool, version: int = 1) -> bool:
    """Whether a downloaded dataset's content checksum is recomputed and compared (section 7.7).

    DatasetV2 (``version=2``) is never verified; ``verify_unless_zarr`` skips datasets with pointer columns.

    Raises:
        ValueError: unknown strategy.
    """
    if strategy not in _STRATEGIES:
        raise ValueError(f"unknown checksum strategy {strategy!r}; expected one of {', '.join(_STRATEGIES)}")
    if version >= 2:
        return False
    if strategy == "verify":
        return True
    if strategy == "verify_unless_zarr":
        return not has_zarr
    return False


def verify_md5(expected: str, actual: str, *, artifact: str | None = None, chunk: str | None = None) -> None:
    """Compare two md5 hex digests (case-insensitive).

    Raises:
        PolarisChecksumError: they differ; the error names the artifact and, when given, the chunk.
    """
    if expected.lower() != actual.lower():
        what = f"chunk {chunk!r} of {artifact}" if chunk else (artifact or "data")
        raise PolarisChecksumError(
            f"checksum mismatch for {what}", artifact=artifact, expected=expected, actual=actual, chunk=chunk
        )

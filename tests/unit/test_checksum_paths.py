"""Both string-hash implementations (pandas' C SipHash and our numpy one) give the Hub's checksum vectors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from polaris import checksum_rows

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "checksum-vectors.json").read_text()
)


def _table(columns: dict[str, Any]) -> pd.DataFrame:
    data = {}
    for name, spec in columns.items():
        values = spec["values"]
        if spec["dtype"] == "object":
            data[name] = pd.Series(values, dtype=object)
        else:
            data[name] = pd.Series([np.nan if v is None else v for v in values], dtype=spec["dtype"])
    return pd.DataFrame(data)


@pytest.fixture(params=["pandas", "ours"])
def string_hash(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(checksum_rows, "_USE_PANDAS_HASH", request.param == "pandas")
    return str(request.param)


@pytest.mark.parametrize("vector", VECTORS["tables"], ids=lambda v: v["name"])
def test_table_vectors_with_each_string_hash(vector: dict[str, Any], string_hash: str) -> None:
    assert checksum_rows.pandas_string_hash_matches() is (string_hash == "pandas")
    assert checksum_rows.table_md5(_table(vector["columns"])) == vector["md5Sum"]


def test_pandas_string_hash_is_used_here_and_equals_ours() -> None:
    values = ["", "CCO", "\u00e9", "x" * 300, "c1ccccc1"]
    assert checksum_rows.pandas_string_hash_matches(), "this pandas' string hash differs from the Hub's"
    np.testing.assert_array_equal(checksum_rows._hash_strings_pandas(values), checksum_rows._hash_strings_ours(values))


def test_a_pandas_that_hashes_differently_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checksum_rows, "_USE_PANDAS_HASH", None)
    monkeypatch.setattr(checksum_rows, "_hash_strings_pandas", lambda values: np.arange(len(values), dtype=np.uint64))
    assert checksum_rows.pandas_string_hash_matches() is False
    vector = VECTORS["tables"][0]
    assert checksum_rows.table_md5(_table(vector["columns"])) == vector["md5Sum"]


def test_pandas_path_is_faster_on_many_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    table = pd.DataFrame({"smiles": [f"C{'C' * (i % 13)}O{i}" for i in range(100_000)]})
    timings = {}
    for path in ("pandas", "ours"):
        monkeypatch.setattr(checksum_rows, "_USE_PANDAS_HASH", path == "pandas")
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            value = checksum_rows.table_md5(table)
            best = min(best, time.perf_counter() - start)
        timings[path] = (best, value)
    assert timings["pandas"][1] == timings["ours"][1]
    assert timings["pandas"][0] < timings["ours"][0]

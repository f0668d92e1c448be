"""Checksums against the values the real Hub (reference client 0.10.0, pandas 2.2) computed."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from polaris import checksum, checksum_md5, checksum_rows, checksum_zarr
from polaris.errors import PolarisChecksumError

VECTORS_PATH = Path(__file__).resolve().parents[1] / "data" / "checksum-vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text())


def build_table(columns: dict[str, Any]) -> pd.DataFrame:
    """A DataFrame exactly as the vectors' ``about`` says: dtype + values, null = NaN (floats) / None (object)."""
    data = {}
    for name, spec in columns.items():
        values = spec["values"]
        if spec["dtype"] == "object":
            data[name] = pd.Series(values, dtype=object)
        else:
            data[name] = pd.Series([np.nan if v is None else v for v in values], dtype=spec["dtype"])
    return pd.DataFrame(data)


def write_files(root: Path, files: dict[str, str]) -> Path:
    for rel, b64 in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(b64))
    return root


# ---------------------------------------------------------------------------------------------------------------------
# The vectors
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["tables"], ids=lambda v: v["name"])
def test_table_vectors(vector: dict[str, Any]) -> None:
    df = build_table(vector["columns"])
    for name, spec in vector["columns"].items():
        assert str(df[name].dtype) == spec["dtype"]
    assert checksum_rows.table_md5(df) == vector["md5Sum"]
    assert checksum_rows.dataset_md5(df, None) == vector["md5Sum"]


@pytest.mark.parametrize("vector", VECTORS["zarr_trees"], ids=lambda v: v["name"])
def test_zarr_tree_vectors(vector: dict[str, Any], tmp_path: Path) -> None:
    root = write_files(tmp_path / "archive.zarr", vector["files"])
    digest, entries = checksum_zarr.zarr_tree_digest(root)
    assert digest == vector["digest"]
    assert [e.to_wire() for e in entries] == vector["manifest"]
    # the same digest from the manifest alone (e.g. a remote manifest)
    assert checksum_zarr.zarr_tree_digest_from_entries(entries) == vector["digest"]
    as_tuples = [(m["path"], m["md5sum"], m["size"]) for m in vector["manifest"]]
    assert checksum_zarr.zarr_tree_digest_from_entries(as_tuples) == vector["digest"]


@pytest.mark.parametrize("vector", VECTORS["zarr_datasets"], ids=lambda v: v["name"])
def test_zarr_dataset_vectors(vector: dict[str, Any], tmp_path: Path) -> None:
    root = write_files(tmp_path / "data.zarr", vector["zarr_files"])
    digest, _ = checksum_zarr.zarr_tree_digest(root)
    assert digest == vector["zarr_digest"]
    df = build_table(vector["columns"])
    assert checksum_rows.dataset_md5(df, digest) == vector["md5Sum"]
    # the digest changes the checksum: without it we get the plain table checksum
    assert checksum_rows.dataset_md5(df, None) != vector["md5Sum"]


@pytest.mark.parametrize("vector", VECTORS["benchmarks"], ids=lambda v: v["name"])
def test_benchmark_vectors(vector: dict[str, Any]) -> None:
    got = checksum.benchmark_md5(
        vector["datasetMd5Sum"], vector["targetCols"], vector["inputCols"], vector["metrics"], vector["split"]
    )
    assert got == vector["md5Sum"]
    # metric order and index order do not matter; the metric *name* is not hashed
    train, tests = vector["split"]
    shuffled = [list(reversed(train)), {k: list(reversed(v)) for k, v in tests.items()}]
    renamed = [{**m, "name": "custom"} for m in reversed(vector["metrics"])]
    assert (
        checksum.benchmark_md5(vector["datasetMd5Sum"], vector["targetCols"], vector["inputCols"], renamed, shuffled)
        == (vector["md5Sum"])
    )
    # a plain test list means one test set called "test"
    plain_split = [train, tests["test"]]
    labels = [m["label"] for m in vector["metrics"]]
    assert (
        checksum.benchmark_md5(vector["datasetMd5Sum"], vector["targetCols"], vector["inputCols"], labels, plain_split)
        == (vector["md5Sum"])
    )
    # anything that matters changes it
    assert (
        checksum.benchmark_md5(vector["datasetMd5Sum"], ["other"], vector["inputCols"], labels, plain_split)
        != (vector["md5Sum"])
    )


def test_grouped_metric_checksum_string_uses_label_and_sorted_config() -> None:
    from polaris.evaluate import Metric

    metric = Metric(label="mean_squared_error", config={"group_by": "cls"}, custom_name="whatever")
    expected = 'mean_squared_error{"aggregation": "mean", "default": null, "group_by": "cls", "on_error": "raise"}'
    assert metric.checksum_string() == expected
    assert checksum.metric_checksum_strings([metric, "r2"]) == sorted([expected, "r2"])
    # a wire dict gives the same string as the model
    assert checksum.metric_checksum_strings([metric.to_wire()]) == [expected]


# ---------------------------------------------------------------------------------------------------------------------
# Independence from dtype, order and storage
# ---------------------------------------------------------------------------------------------------------------------


def _strings_vector() -> tuple[pd.DataFrame, str]:
    vector = next(v for v in VECTORS["tables"] if v["name"] == "strings_nan")
    return build_table(vector["columns"]), vector["md5Sum"]


@pytest.mark.parametrize("dtype", [pd.StringDtype(), pd.StringDtype("pyarrow"), "str"], ids=str)
def test_string_dtypes_give_the_object_checksum(dtype: Any) -> None:
    df, expected = _strings_vector()
    converted = df.astype({"smiles": dtype})
    assert converted["smiles"].dtype != object
    assert checksum_rows.table_md5(converted) == expected


def test_column_and_row_order_do_not_matter() -> None:
    vector = next(v for v in VECTORS["tables"] if v["name"] == "bool_int32")
    df = build_table(vector["columns"])
    assert checksum_rows.table_md5(df[["name", "k", "flag"]]) == vector["md5Sum"]
    assert checksum_rows.table_md5(df.iloc[::-1]) == vector["md5Sum"]
    assert checksum_rows.table_md5(df.sample(frac=1.0, random_state=3).reset_index(drop=True)) == vector["md5Sum"]
    # but the values do
    changed = df.copy()
    changed.loc[0, "k"] = 5
    assert checksum_rows.table_md5(changed) != vector["md5Sum"]


@pytest.mark.parametrize("vector", VECTORS["tables"], ids=lambda v: v["name"])
def test_parquet_round_trip_keeps_checksum(vector: dict[str, Any], tmp_path: Path) -> None:
    df = build_table(vector["columns"])
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    back = pd.read_parquet(path)
    assert checksum_rows.table_md5(back) == vector["md5Sum"]


def test_matches_pandas_own_hash_for_object_columns() -> None:
    values = ["CCO", "", None, "é-ü", "x" * 200, "N#N", float("nan"), "CCO", "12345678", "1234567"]
    series = pd.Series(values, dtype=object)
    frame = pd.DataFrame({"s": series, "f": np.linspace(-1, 1, len(values)), "i": np.arange(len(values))})
    ours = checksum_rows.row_hashes(frame)
    theirs = pd.util.hash_pandas_object(frame.astype({"s": object}), index=False).to_numpy()
    assert ours.dtype == np.uint64
    assert np.array_equal(ours, theirs)


def test_siphash_reference_vector() -> None:
    # SipHash-2-4 reference (Aumasson & Bernstein): key 00..0f, message 00..0e -> a129ca6149be45e5
    key = bytes(range(16))
    assert int(checksum_rows.siphash24([bytes(range(15))], key)[0]) == 0xA129CA6149BE45E5
    assert int(checksum_rows.siphash24([b""], key)[0]) == 0x726FDB47DD0E0E31


def test_empty_and_duplicate_columns() -> None:
    assert checksum_rows.table_md5(pd.DataFrame({"x": pd.Series([], dtype=float)})) == hashlib.md5(bytes(8)).hexdigest()
    dup = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(ValueError, match="unique"):
        checksum_rows.table_md5(dup)


def test_speed_100k_rows() -> None:
    rng = np.random.default_rng(0)
    n = 100_000
    df = pd.DataFrame(
        {
            "smiles": pd.Series([f"C{'C' * int(k)}O{i}" for i, k in enumerate(rng.integers(5, 80, n))], dtype=object),
            "y": rng.normal(size=n),
            "k": rng.integers(0, 100, n),
        }
    )
    start = time.perf_counter()
    checksum_rows.table_md5(df)
    assert time.perf_counter() - start < 5.0


# ---------------------------------------------------------------------------------------------------------------------
# Files, manifests, strategies
# ---------------------------------------------------------------------------------------------------------------------


def test_file_md5_and_content_md5(tmp_path: Path) -> None:
    data = b"polaris" * 500_000  # > one read chunk
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert checksum_md5.file_md5(path) == (hashlib.md5(data).hexdigest(), len(data))
    assert checksum_md5.md5_b64(b"") == "1B2M2Y8AsgTpgAmY7PhCfg=="


def test_v2_manifest_is_sorted_and_reproducible(tmp_path: Path) -> None:
    vector = VECTORS["zarr_trees"][1]
    root = write_files(tmp_path / "archive.zarr", vector["files"])
    md5_a = checksum_zarr.write_zarr_manifest(root, tmp_path / "a" / "zarr_manifest.parquet")
    md5_b = checksum_zarr.write_zarr_manifest(root, tmp_path / "b" / "zarr_manifest.parquet")
    assert md5_a == md5_b == checksum_md5.file_md5(tmp_path / "a" / "zarr_manifest.parquet")[0]
    read = checksum_zarr.read_zarr_manifest(tmp_path / "a" / "zarr_manifest.parquet")
    assert read == {m["path"]: m["md5sum"] for m in vector["manifest"]}
    assert list(read) == sorted(read)
    import pyarrow.parquet as pq

    schema = pq.read_schema(tmp_path / "a" / "zarr_manifest.parquet")
    assert schema.names == ["path", "md5_checksum"]
    assert str(schema.field("path").type) == "string"


def test_read_manifest_rejects_wrong_columns(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    pd.DataFrame({"path": ["a"]}).to_parquet(path)
    with pytest.raises(ValueError, match="md5_checksum"):
        checksum_zarr.read_zarr_manifest(path)


def test_remote_zarr_cannot_be_hashed() -> None:
    with pytest.raises(FileNotFoundError, match="remote"):
        checksum_zarr.zarr_tree_digest("polarisfs://data.zarr")


def test_empty_archive_digest(tmp_path: Path) -> None:
    (tmp_path / "empty.zarr" / "sub").mkdir(parents=True)
    digest, entries = checksum_zarr.zarr_tree_digest(tmp_path / "empty.zarr")
    assert entries == []
    assert digest == hashlib.md5(b'{"directories":[],"files":[]}').hexdigest() + "-0-0"


@pytest.mark.parametrize(
    ("strategy", "has_zarr", "version", "expected"),
    [
        ("verify", False, 1, True),
        ("verify", True, 1, True),
        ("verify_unless_zarr", False, 1, True),
        ("verify_unless_zarr", True, 1, False),
        ("ignore", False, 1, False),
        ("ignore", True, 1, False),
        ("verify", False, 2, False),
        ("verify_unless_zarr", False, 2, False),
    ],
)
def test_should_verify(strategy: Any, has_zarr: bool, version: int, expected: bool) -> None:
    assert checksum.should_verify(strategy, has_zarr=has_zarr, version=version) is expected


def test_should_verify_rejects_unknown_strategy() -> None:
    with pytest.raises(ValueError, match="unknown checksum strategy"):
        checksum.should_verify("sometimes", has_zarr=False, version=1)  # type: ignore[arg-type]


def test_verify_md5_names_artifact_and_chunk() -> None:
    checksum.verify_md5("ABCDEF0123456789abcdef0123456789", "abcdef0123456789abcdef0123456789", artifact="org/x")
    with pytest.raises(PolarisChecksumError) as info:
        checksum.verify_md5("a" * 32, "b" * 32, artifact="org-a/data", chunk="img/0.0")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.artifact == "org-a/data" and err.chunk == "img/0.0"
    assert "org-a/data" in str(err) and "img/0.0" in str(err) and "a" * 32 in str(err)


def test_documented_names_stay_on_polaris_checksum_and_private_helpers_do_not() -> None:
    """docs/api.md's ``polaris.checksum`` functions are the defining modules' objects; internals are not re-exported."""
    import polaris.checksum as public

    documented = {
        "table_md5": checksum_rows,
        "dataset_md5": checksum_rows,
        "row_hashes": checksum_rows,
        "file_md5": checksum_md5,
        "md5_b64": checksum_md5,
        "is_md5": checksum_md5,
        "ZarrFileEntry": checksum_zarr,
        "zarr_manifest_entries": checksum_zarr,
        "zarr_tree_digest": checksum_zarr,
        "zarr_tree_digest_from_entries": checksum_zarr,
        "write_zarr_manifest": checksum_zarr,
        "read_zarr_manifest": checksum_zarr,
    }
    for name, home in documented.items():
        assert getattr(public, name) is getattr(home, name), name
        assert name in public.__all__
    for private in ("manifest_key", "require_manifest_md5", "manifest_from_wire", "siphash24", "HASH_KEY"):
        assert not hasattr(public, private), private

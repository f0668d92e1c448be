"""Manifests are data, never paths: keys and md5 values from outside are checked before anything uses them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from polaris import checksum_zarr
from polaris.errors import InvalidArtifactError

GOOD = "0" * 32


def _parquet(path: Path, rows: list[tuple[str, str]]) -> Path:
    table = pa.table({"path": [r[0] for r in rows], "md5_checksum": [r[1] for r in rows]})
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("../x", "'..' segment"),
        ("calc/../../etc/passwd", "'..' segment"),
        ("./calc/0", "'.' segment"),
        ("calc/./0", "'.' segment"),
        ("calc//0", "empty segment"),
        ("calc/0/", "empty segment"),
        ("/etc/passwd", "absolute path"),
        ("calc\\0", "backslash"),
        ("calc\x000", "NUL or control character"),
        ("", "non-empty string"),
    ],
)
def test_unsafe_keys_are_refused(key: str, problem: str) -> None:
    with pytest.raises(InvalidArtifactError, match=problem):
        checksum_zarr.manifest_key(key)


def test_plain_keys_pass_unchanged() -> None:
    for key in (".zgroup", "calc/0", "calc/.zarray", "a/b/c.d/0.0", "x y/é"):
        assert checksum_zarr.manifest_key(key) == key


@pytest.mark.parametrize("md5", ["/etc/passwd", "../../x", "0" * 31, "0" * 33, "g" * 32, None, 12])
def test_md5_values_must_be_32_hex_digits(md5: object) -> None:
    with pytest.raises(InvalidArtifactError, match="not 32 hex digits"):
        checksum_zarr.require_manifest_md5(md5, key="calc/0")


def test_uppercase_md5_is_accepted_lowercased() -> None:
    assert checksum_zarr.require_manifest_md5("ABCDEF" + "0" * 26, key="k") == "abcdef" + "0" * 26


def test_parquet_manifest_with_a_duplicate_is_refused(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "m.parquet", [("calc/0", GOOD), ("calc/0", "1" * 32)])
    with pytest.raises(InvalidArtifactError, match="listed twice"):
        checksum_zarr.read_zarr_manifest(path)


def test_parquet_manifest_with_an_alias_is_refused(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "m.parquet", [("calc/0", GOOD), ("calc//0", "1" * 32)])
    with pytest.raises(InvalidArtifactError, match="empty segment"):
        checksum_zarr.read_zarr_manifest(path)
    path = _parquet(tmp_path / "n.parquet", [("calc/A", GOOD), ("calc/a", "1" * 32)])
    with pytest.raises(InvalidArtifactError, match="alias of 'calc/A'"):
        checksum_zarr.read_zarr_manifest(path)


def test_parquet_manifest_with_a_path_as_md5_is_refused(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "m.parquet", [("calc/0", "/etc/passwd")])
    with pytest.raises(InvalidArtifactError, match="not 32 hex digits"):
        checksum_zarr.read_zarr_manifest(path)


def test_a_written_manifest_reads_back(tmp_path: Path) -> None:
    root = tmp_path / "a"
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "0").write_bytes(b"x")
    (root / ".zgroup").write_text("{}")
    checksum_zarr.write_zarr_manifest(root, tmp_path / "m.parquet")
    assert set(checksum_zarr.read_zarr_manifest(tmp_path / "m.parquet")) == {".zgroup", "calc/0"}


def test_v1_zarr_content_is_checked_the_same_way() -> None:
    ok = [{"path": "calc/0", "md5sum": GOOD, "size": 1}]
    assert checksum_zarr.manifest_from_wire(ok) == {"calc/0": GOOD}
    assert checksum_zarr.manifest_from_wire([]) is None
    with pytest.raises(InvalidArtifactError, match="listed twice"):
        checksum_zarr.manifest_from_wire(ok + ok)
    with pytest.raises(InvalidArtifactError, match=r"'\.\.' segment"):
        checksum_zarr.manifest_from_wire([{"path": "../../x", "md5sum": GOOD, "size": 1}])
    with pytest.raises(InvalidArtifactError, match="list of"):
        checksum_zarr.manifest_from_wire({"path": "x"})


def test_tree_digest_refuses_aliases_instead_of_folding_them() -> None:
    with pytest.raises(InvalidArtifactError, match="empty segment"):
        checksum_zarr.zarr_tree_digest_from_entries([("calc/0", GOOD, 1), ("calc//0", GOOD, 1)])
    with pytest.raises(InvalidArtifactError, match="listed twice"):
        checksum_zarr.zarr_tree_digest_from_entries([("calc/0", GOOD, 1), ("calc/0", GOOD, 1)])

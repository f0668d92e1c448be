"""polaris.tables: strict readers name the file, line and column of what they refuse."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from polaris.errors import InvalidArtifactError
from polaris.tables import InputFileError, check_number, line_of, read_document, read_table


@pytest.mark.parametrize(
    ("name", "content", "line", "column", "words"),
    [
        ("ragged.csv", b"smiles,logp\nCCO,-0.31,extra\n", 2, None, "3 fields, but the header (line 1) has 2"),
        ("short.tsv", b"a\tb\n1\t2\n3\n", 3, None, "1 fields, but the header"),
        ("empty.csv", b"  \n", None, None, "is empty"),
        ("latin1.csv", b"a,b\n1,caf\xe9\n", 2, 6, "not UTF-8"),
        ("dup.csv", b"a,b,a\n1,2,3\n", 1, 3, "names 'a' twice (columns 1 and 3)"),
        ("blank.csv", b"a, \n1,2\n", 1, 2, "header column 2 has no name"),
        ("noext.txt", b"a,b\n1,2\n", None, None, "is not a table"),
    ],
)
def test_refusals_name_the_place(
    tmp_path: Path, name: str, content: bytes, line: int | None, column: int | None, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError) as info:
        read_table(path)
    error = info.value
    assert isinstance(error, InvalidArtifactError) and error.path == str(path)
    assert (error.line, error.column) == (line, column)
    assert words in error.message and error.hint


def test_a_good_csv_keeps_pandas_types_and_the_line_of_each_row(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text('smiles,logp\nCCO,1.5\n\n"C,C",2\n')
    frame = read_table(path)
    assert frame["logp"].tolist() == [1.5, 2.0] and frame["smiles"].tolist() == ["CCO", "C,C"]
    assert [line_of(frame, 0), line_of(frame, 1)] == [2, 4]


def test_parquet_round_trip_and_a_fake_parquet(tmp_path: Path) -> None:
    good = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(good)
    assert read_table(good)["a"].tolist() == [1, 2] and line_of(read_table(good), 0) is None
    fake = tmp_path / "fake.parquet"
    fake.write_text("a,b\n")
    with pytest.raises(InputFileError, match="not a readable Parquet"):
        read_table(fake)


def test_json_is_json_and_yaml_errors_have_a_place(tmp_path: Path) -> None:
    as_json = tmp_path / "p.json"
    as_json.write_text("test:\n  y: [1]\n")
    with pytest.raises(InputFileError) as info:
        read_document(as_json)
    assert (info.value.line, info.value.column) == (1, 1) and "not valid JSON" in info.value.message
    as_yaml = tmp_path / "p.yaml"
    as_yaml.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(InputFileError, match="not valid YAML") as bad:
        read_document(as_yaml)
    assert bad.value.line is not None
    as_yaml.write_text("a: 1\n")
    assert read_document(as_yaml) == {"a": 1}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1.0),
        (2.5, 2.5),
        (" 3 ", 3.0),
        ("abc", None),
        (True, None),
        (None, None),
        (float("nan"), None),
        ("inf", None),
    ],
)
def test_check_number(value: object, expected: float | None) -> None:
    assert check_number(value) == expected

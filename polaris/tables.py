"""Strict readers of the files a user hands over: tables (CSV, TSV, Parquet) and documents (JSON, YAML).

A file is refused with an :class:`InputFileError` that names the file and, where it can, the line and column
(``mols.csv, line 4: 3 fields, the header has 2``): ragged rows, empty files, text that is not UTF-8, blank or
duplicate header names. Nothing is guessed (no ``smiles.1`` / ``Unnamed: 0`` columns, no YAML string read from a
file meant to be JSON). pandas is imported only when a table is built.

``read_table(path)`` returns a DataFrame whose ``attrs["lines"]`` holds the file line of each row (CSV/TSV), so
later checks of a cell can say where it is (:func:`line_of`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polaris.errors import InvalidArtifactError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "TABLE_SUFFIXES",
    "InputFileError",
    "check_number",
    "line_of",
    "read_document",
    "read_table",
    "read_text",
]

#: File suffix -> table kind.
TABLE_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv"}
_JSON_SUFFIXES = {".json"}
_YAML_SUFFIXES = {".yaml", ".yml"}


class InputFileError(InvalidArtifactError):
    """A file given as input cannot be used as it is; nothing was sent.

    Attributes:
        path: the file. line, column: where the problem is (1-based; ``None`` when it is the whole file).
    """

    default_hint = "Fix the file at the place named above and run the command again; nothing was sent."

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        line: int | None = None,
        column: int | str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {problem}", hint=hint)


def read_text(path: str | Path) -> str:
    """The file as UTF-8 text (a byte-order mark is dropped).

    Raises:
        InputFileError: unreadable, or not UTF-8 (with the line and column of the first bad byte).
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})", hint="Check the path.") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = raw.count(b"\n", 0, start) + 1
        column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        raise InputFileError(
            path,
            f"is not UTF-8 text (byte 0x{raw[start]:02x} cannot be decoded)",
            line=line,
            column=column,
            hint="Save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8') and run the command again.",
        ) from None


def _read_delimited(path: Path, sep: str) -> pd.DataFrame:
    import pandas as pd

    text = read_text(path)
    if not text.strip():
        raise InputFileError(path, "is empty: expected a header line and at least one row")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    header: list[str] | None = None
    header_line = 0
    lines: list[int] = []
    try:
        for row in reader:
            if not row or (all(not cell.strip() for cell in row) and len(row) <= 1):
                continue  # a blank line
            if header is None:
                header, header_line = row, reader.line_num
                _check_header(path, header, header_line)
                continue
            if len(row) != len(header):
                raise InputFileError(
                    path,
                    f"{len(row)} fields, but the header (line {header_line}) has {len(header)}: a ragged row "
                    "(a missing or extra separator, or an unquoted value that contains one)",
                    line=reader.line_num,
                    hint="Give every row exactly one value per header column (quote values that contain "
                    f"{'a tab' if sep == chr(9) else 'a comma'}) and run the command again; nothing was sent.",
                )
            lines.append(reader.line_num)
    except csv.Error as exc:
        what = "TSV" if sep == "\t" else "CSV"
        raise InputFileError(path, f"is not valid {what} ({exc})", line=reader.line_num) from None
    if not lines:
        raise InputFileError(path, "has a header but no rows", line=header_line)
    frame = pd.read_csv(io.StringIO(text), sep=sep, skip_blank_lines=True, index_col=False)
    if len(frame) != len(lines):  # pragma: no cover - the two parsers agree on what a row is
        raise InputFileError(path, f"parsed as {len(frame)} rows where {len(lines)} were read")
    frame.attrs["lines"] = lines
    frame.attrs["path"] = str(path)
    return frame


def _check_header(path: Path, header: list[str], line: int) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name.strip():
            raise InputFileError(
                path,
                f"header column {position} has no name",
                line=line,
                column=position,
                hint="Give every column a name in the first line (and no trailing separator); nothing was sent.",
            )
        if name in seen:
            raise InputFileError(
                path,
                f"the header names {name!r} twice (columns {seen[name]} and {position})",
                line=line,
                column=position,
                hint="Give every column a distinct name; nothing was sent.",
            )
        seen[name] = position


def _read_parquet(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a file that is not Parquet
        raise InputFileError(
            path, f"is not a readable Parquet file ({type(exc).__name__}: {exc})", hint="Check the file."
        ) from None
    names = [str(c) for c in frame.columns]
    for position, name in enumerate(names, start=1):
        if not name.strip() or name.startswith("__index_level_"):
            raise InputFileError(path, f"column {position} has no name", column=position)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputFileError(path, f"columns named more than once: {', '.join(duplicates)}")
    if frame.empty:
        raise InputFileError(path, "has no rows")
    frame.attrs["path"] = str(path)
    return frame


def read_table(path: str | Path) -> pd.DataFrame:
    """A table from a ``.csv``, ``.tsv`` or ``.parquet``/``.pq`` file, read strictly.

    Raises:
        InputFileError: another suffix; an empty file; not UTF-8; a blank or repeated header name; a row with more
            or fewer fields than the header (each naming the file and the line/column).
    """
    path = Path(path)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputFileError(
            path, "is not a table", hint="Give a .csv, .tsv or .parquet file (or, for a dataset, a Zarr folder)."
        )
    if kind == "parquet":
        return _read_parquet(path)
    return _read_delimited(path, "\t" if kind == "tsv" else ",")


def line_of(frame: pd.DataFrame, position: int) -> int | None:
    """The file line of row ``position`` of a table from :func:`read_table` (``None`` for Parquet)."""
    lines = frame.attrs.get("lines")
    return int(lines[position]) if lines is not None and 0 <= position < len(lines) else None


def read_document(path: str | Path) -> Any:
    """A JSON (``.json``: parsed as JSON only) or YAML (``.yaml``/``.yml``; other suffixes too) document.

    Raises:
        InputFileError: not UTF-8, empty, or not valid JSON/YAML (with the line and column of the problem).
    """
    text = read_text(path)
    if not text.strip():
        raise InputFileError(path, "is empty")
    suffix = Path(path).suffix.lower()
    if suffix in _JSON_SUFFIXES:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputFileError(
                path, f"is not valid JSON ({exc.msg})", line=exc.lineno, column=exc.colno, hint="Fix the JSON."
            ) from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InputFileError(
            path,
            f"is not valid YAML or JSON ({problem})",
            line=mark.line + 1 if mark is not None else None,
            column=mark.column + 1 if mark is not None else None,
            hint="Fix the file.",
        ) from None


def check_number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` when it is not a number (text, empty, NaN, inf, a bool)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, numbers.Real):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None

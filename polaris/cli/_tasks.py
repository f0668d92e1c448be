"""What a benchmark or a competition gives a user on disk (``get --to DIR``), and the strict reading of the
predictions they send back (``results upload``, ``competitions evaluate``).

``get --to DIR`` writes:

* ``train.csv``: the training rows (inputs and targets);
* ``test.csv``: ``test_set``, ``row`` and the inputs of every test row, in test order;
* ``predictions.csv``: ``test_set``, ``row`` and one empty column per target, one line per test row;
* ``predictions.json``: ``{"benchmark"|"competition": OWNER/NAME, "predictions": {test set: {target: [null, ...]}}}``.

(``.parquet`` instead of ``.csv`` for a table with array cells.) Filled in, either template is accepted as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

__all__ = ["TaskFiles", "export_task", "is_predictions_file", "read_predictions"]

TEST_SET_COLUMN = "test_set"
ROW_COLUMN = "row"
_FILL_HINT = "Fill every prediction with a number (one per test row, in the order of test.csv); nothing was sent."


class TaskFiles(dict[str, str]):
    """``{"train": path, "test": path, "predictions_csv": path, "predictions_json": path}``."""


def _test_sets(task: Any) -> dict[str, Any]:
    _, test = task.get_train_test_split()
    if isinstance(test, dict):
        return {str(k): test[k] for k in sorted(test)}
    return {str(task.test_set_labels[0]): test}


def _scalar_cells(frame: pd.DataFrame) -> bool:
    import numpy as np

    for column in frame.columns:
        for value in frame[column].head(50):
            if isinstance(value, (list, tuple, dict, np.ndarray)):
                return False
    return True


def _write_table(frame: pd.DataFrame, folder: Path, stem: str) -> Path:
    if _scalar_cells(frame):
        path = folder / f"{stem}.csv"
        frame.to_csv(path, index=False)
    else:
        path = folder / f"{stem}.parquet"
        frame.to_parquet(path, index=False)
    return path


def export_task(task: Any, kind: str, artifact: str, to: Path, *, overwrite: bool) -> TaskFiles:
    """Write the training table, the test inputs (test order) and the predictions templates into ``to``.

    Raises:
        FileExistsError: one of the files is there already and not ``overwrite`` (nothing was written).
    """
    import pandas as pd

    names = ["train.csv", "train.parquet", "test.csv", "test.parquet", "predictions.csv", "predictions.json"]
    clashes = [str(to / n) for n in names if (to / n).exists()]
    if clashes and not overwrite:
        raise FileExistsError(f"{', '.join(clashes)} already exist(s); nothing was written (use --overwrite)")
    train, _ = task.get_train_test_split()
    tests = _test_sets(task)
    targets = [str(t) for t in task.target_cols]
    test_frames = []
    template_rows: list[pd.DataFrame] = []
    for label, subset in tests.items():
        inputs = subset.as_dataframe()
        inputs = inputs[[c for c in inputs.columns if c not in targets]]
        n = len(inputs)
        head = pd.DataFrame({TEST_SET_COLUMN: [label] * n, ROW_COLUMN: list(range(n))})
        test_frames.append(pd.concat([head, inputs.reset_index(drop=True)], axis=1))
        blank = head.copy()
        for target in targets:
            blank[target] = pd.Series([None] * n, dtype=object)
        template_rows.append(blank)
    to.mkdir(parents=True, exist_ok=True)
    files = TaskFiles()
    files["train"] = str(_write_table(train.as_dataframe(), to, "train"))
    files["test"] = str(_write_table(pd.concat(test_frames, ignore_index=True), to, "test"))
    template = pd.concat(template_rows, ignore_index=True)
    csv_path = to / "predictions.csv"
    template.to_csv(csv_path, index=False)
    files["predictions_csv"] = str(csv_path)
    json_path = to / "predictions.json"
    document = {
        kind: artifact,
        "predictions": {label: {t: [None] * len(tests[label]) for t in targets} for label in tests},
    }
    json_path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    files["predictions_json"] = str(json_path)
    return files


# ------------------------------------------------------------------ reading predictions back
def is_predictions_file(path: Path) -> bool:
    """A predictions file (template filled in) rather than a results file (scores): by its columns or keys."""
    from polaris.tables import TABLE_SUFFIXES, read_document, read_table

    if path.suffix.lower() in TABLE_SUFFIXES:
        from polaris.evaluate.predictions import RESULTS_COLUMNS

        columns = {str(c).strip().lower() for c in read_table(path).columns}
        return not columns & {c.lower() for c in RESULTS_COLUMNS}
    data = read_document(path)
    return isinstance(data, dict) and "predictions" in data and "results" not in data


def named_artifact(path: Path, kind: str) -> str | None:
    """The ``benchmark:`` / ``competition:`` a JSON/YAML predictions file names (``None`` for a table)."""
    from polaris.tables import TABLE_SUFFIXES, read_document

    if path.suffix.lower() in TABLE_SUFFIXES:
        return None
    data = read_document(path)
    value = data.get(kind) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def read_predictions(path: Path, task: Any) -> dict[str, dict[str, npt.NDArray[np.float64]]]:
    """Predictions of every test set and target of ``task``, checked cell by cell.

    CSV/TSV/Parquet: one column per target, ``test_set`` (needed with several test sets) and ``row`` (optional;
    the position in the test set) columns; other columns are ignored. JSON/YAML: ``{test set: {target: [...]}}``,
    ``{target: [...]}`` (one test set) or a list (one target, one test set), optionally under ``predictions:``.

    Raises:
        InputFileError: a missing column or test set, a value that is not a number (with its line or key), or
            the wrong number of rows.
    """
    from polaris.tables import TABLE_SUFFIXES

    if path.suffix.lower() in TABLE_SUFFIXES:
        return _from_table(path, task)
    return _from_document(path, task)


def _from_table(path: Path, task: Any) -> dict[str, dict[str, npt.NDArray[np.float64]]]:
    import numpy as np

    from polaris.tables import InputFileError, check_number, line_of, read_table

    table = read_table(path)
    targets = [str(t) for t in task.target_cols]
    labels = [str(label) for label in task.test_set_labels]
    sizes = {str(k): int(v) for k, v in task.test_set_sizes.items()}
    columns = [str(c) for c in table.columns]
    missing = [t for t in targets if t not in columns]
    if missing:
        raise InputFileError(
            path,
            f"lacks the target column(s) {', '.join(missing)} (columns: {', '.join(columns)})",
            hint="Use the predictions.csv that `get --to DIR` writes: one column per target.",
        )
    if TEST_SET_COLUMN in columns:
        names = [str(v) for v in table[TEST_SET_COLUMN]]
        for position, name in enumerate(names):
            if name not in sizes:
                raise InputFileError(
                    path,
                    f"test set {name!r} is not one of this task's ({', '.join(labels)})",
                    line=line_of(table, position),
                    column=TEST_SET_COLUMN,
                )
    elif len(labels) == 1:
        names = [labels[0]] * len(table)
    else:
        raise InputFileError(path, f"needs a {TEST_SET_COLUMN} column: this task has the test sets {labels}")
    out: dict[str, dict[str, npt.NDArray[np.float64]]] = {}
    for label in labels:
        positions = [i for i, name in enumerate(names) if name == label]
        if len(positions) != sizes[label]:
            raise InputFileError(
                path,
                f"has {len(positions)} row(s) for test set {label!r}, which has {sizes[label]}",
                hint="Give one row per test row (the rows of test.csv, in its order); nothing was sent.",
            )
        if ROW_COLUMN in columns:
            rows: list[int] = []
            for i in positions:
                number = check_number(table[ROW_COLUMN].iloc[i])
                if number is None or not float(number).is_integer():
                    raise InputFileError(
                        path,
                        f"{ROW_COLUMN} {table[ROW_COLUMN].iloc[i]!r} is not a row number",
                        line=line_of(table, i),
                        column=ROW_COLUMN,
                    )
                rows.append(int(number))
            if sorted(rows) != list(range(sizes[label])):
                raise InputFileError(
                    path,
                    f"the {ROW_COLUMN} numbers of test set {label!r} are not 0..{sizes[label] - 1}, each once",
                    column=ROW_COLUMN,
                )
            positions = [p for _, p in sorted(zip(rows, positions, strict=True))]
        out[label] = {}
        for target in targets:
            values = np.empty(len(positions), dtype=float)
            for k, i in enumerate(positions):
                raw = table[target].iloc[i]
                number = check_number(raw)
                if number is None:
                    shown = "empty" if _is_blank(raw) else f"{raw!r} is not a number"
                    raise InputFileError(
                        path, f"prediction {shown}", line=line_of(table, i), column=target, hint=_FILL_HINT
                    )
                values[k] = number
            out[label][target] = values
    return out


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()


def _from_document(path: Path, task: Any) -> dict[str, dict[str, npt.NDArray[np.float64]]]:
    from polaris.tables import InputFileError, read_document

    data = read_document(path)
    prefix = ""
    if isinstance(data, dict) and "predictions" in data:
        data, prefix = data["predictions"], "predictions"
    targets = [str(t) for t in task.target_cols]
    labels = [str(label) for label in task.test_set_labels]
    sizes = {str(k): int(v) for k, v in task.test_set_sizes.items()}
    if data is None:
        raise InputFileError(path, "holds no predictions", hint=_FILL_HINT)
    if isinstance(data, list):
        if len(targets) != 1 or len(labels) != 1:
            raise InputFileError(
                path,
                f"a plain list fits one target and one test set; give {{test set: {{target: [...]}}}} for {labels}",
            )
        data = {labels[0]: {targets[0]: data}}
    if not isinstance(data, dict):
        raise InputFileError(path, f"{prefix or 'the document'} must be a mapping or a list; got {type(data).__name__}")
    if data and all(str(k) in targets for k in data) and not any(str(k) in sizes for k in data):
        if len(labels) != 1:
            raise InputFileError(path, f"name the test set of each target: this task has the test sets {labels}")
        data = {labels[0]: data}
    out: dict[str, dict[str, npt.NDArray[np.float64]]] = {}
    for label in labels:
        where = f"{prefix}.{label}" if prefix else label
        if label not in data:
            raise InputFileError(path, f"has no predictions for test set {label!r} (key {where})", hint=_FILL_HINT)
        per_target = data[label]
        if not isinstance(per_target, dict):
            raise InputFileError(path, f"{where} must map each target to its list of predictions")
        out[label] = {}
        for target in targets:
            if target not in per_target:
                raise InputFileError(path, f"{where} has no predictions for target {target!r}", hint=_FILL_HINT)
            out[label][target] = _numbers(path, per_target[target], f"{where}.{target}", sizes[label])
    extra = sorted(str(k) for k in data if str(k) not in sizes)
    if extra:
        raise InputFileError(path, f"names test set(s) this task does not have: {', '.join(extra)} (has {labels})")
    return out


def _numbers(path: Path, values: Any, key: str, size: int) -> npt.NDArray[np.float64]:
    import numpy as np

    from polaris.tables import InputFileError, check_number

    if not isinstance(values, list):
        raise InputFileError(path, f"{key} must be a list of numbers; got {type(values).__name__}")
    if len(values) != size:
        raise InputFileError(
            path, f"{key} has {len(values)} prediction(s); the test set has {size} rows", hint=_FILL_HINT
        )
    out = np.empty(size, dtype=float)
    for i, value in enumerate(values):
        number = None if isinstance(value, str) else check_number(value)
        if number is None:
            shown = "null" if value is None else f"{value!r}, not a number"
            raise InputFileError(path, f"{key}[{i}] is {shown}", hint=_FILL_HINT)
        out[i] = number
    return out

"""Benchmarks: a dataset, target/input columns, a train/test split and metrics (Hub sections 6.7, 7.5, 10.2).

:class:`Subset` (in :mod:`polaris.artifacts._table_subset`) and :class:`DatasetReference` (in
:mod:`polaris.artifacts._benchmark_common`) are re-exported here, their documented path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import (
    Field,
    PrivateAttr,
    computed_field,
    field_serializer,
    field_validator,
    model_validator,
)

from polaris import checksum
from polaris.artifacts._base import VersionedArtifactModel, html_fields, require_md5
from polaris.artifacts._benchmark_common import (
    DatasetReference,
    benchmark_from_json,
    benchmark_to_json,
    metric_name,
    resolve_main_metric,
    unique_metrics,
    upload_benchmark_to_hub,
)
from polaris.artifacts._subset_common import check_featurization_fn
from polaris.artifacts._table_subset import Subset
from polaris.artifacts.dataset import DatasetV1
from polaris.errors import InvalidArtifactError
from polaris.evaluate import Metric, normalize_predictions, score
from polaris.evaluate.metrics import unfit_metrics
from polaris.types import AccessType, HubOwner, TargetType, TaskType

if TYPE_CHECKING:
    from polaris.artifacts.results import BenchmarkResults

__all__ = [
    "BenchmarkSpecification",
    "DatasetReference",
    "MultiTaskBenchmarkSpecification",
    "SingleTaskBenchmarkSpecification",
    "Subset",
]

logger = logging.getLogger(__name__)

SplitType = tuple[list[int], dict[str, list[int]]]


def _as_index_list(value: Any, what: str) -> list[int]:
    if isinstance(value, (str, bytes, Mapping)):
        raise ValueError(f"split: {what} must be a list of row positions")
    out: list[int] = []
    for v in list(np.asarray(value).ravel().tolist() if isinstance(value, np.ndarray) else value):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            else:
                raise ValueError(f"split: {what} contains a non-integer index {v!r}")
        out.append(int(v))
    return out


class BenchmarkSpecification(VersionedArtifactModel):
    """A benchmark: dataset, targets, inputs, split and metrics.

    ``dataset`` is a :class:`DatasetV1` (needed for splits, inference and evaluation) or, when parsed from the Hub
    without the dataset loaded, a :class:`DatasetReference`.

    Raises (on construction):
        pydantic.ValidationError: a rule of section 8.5 is broken; the message names the field.
    """

    artifact_type = "benchmark"

    dataset: DatasetV1 | DatasetReference | None = Field(default=None, exclude=True)
    target_cols: list[str]
    input_cols: list[str]
    split: SplitType
    metrics: list[Metric]
    main_metric: str | None = None
    readme: str = ""
    target_types: dict[str, TargetType] = Field(default_factory=dict)
    access: AccessType = "private"

    _md5sum: str | None = PrivateAttr(default=None)
    _dataset_artifact_id: str | None = PrivateAttr(default=None)
    _wire_n_classes: dict[str, int] | None = PrivateAttr(default=None)
    #: The target types given (not inferred from a numeric column): metrics are checked and applied by these.
    _declared_types: dict[str, str] = PrivateAttr(default_factory=dict)

    # -- parsing --------------------------------------------------------------------------------------------------

    @model_validator(mode="wrap")
    @classmethod
    def _hub_values(cls, data: Any, handler: Any) -> Any:
        md5 = dataset_id = n_classes = None
        if isinstance(data, dict):
            md5 = data.get("md5Sum", data.get("md5sum"))
            dataset_id = data.get("datasetArtifactId", data.get("dataset_artifact_id"))
            n_classes = data.get("nClasses", data.get("n_classes"))
        obj = handler(data)
        if isinstance(obj, BenchmarkSpecification):
            if md5 is not None:
                obj.md5sum = md5
            obj._dataset_artifact_id = dataset_id
            if isinstance(n_classes, Mapping):
                obj._wire_n_classes = {str(k): int(v) for k, v in n_classes.items()}
        return obj

    @field_validator("dataset", mode="before")
    @classmethod
    def _dataset(cls, value: Any) -> Any:
        if value is None or isinstance(value, (DatasetV1, DatasetReference)):
            return value
        if isinstance(value, Mapping):
            if "table" in value:
                return DatasetV1.model_validate(value)
            return DatasetReference.model_validate(value)
        raise ValueError(f"dataset must be a DatasetV1 or {{owner, name}}, got {type(value).__name__}")

    @field_validator("target_cols", "input_cols", mode="before")
    @classmethod
    def _cols(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return list(value) if isinstance(value, (tuple, set, frozenset)) else value

    @field_validator("target_cols", "input_cols")
    @classmethod
    def _cols_unique(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must list at least one column")
        dupes = sorted({c for c in value if value.count(c) > 1})
        if dupes:
            raise ValueError(f"duplicate columns {dupes}")
        return value

    @field_validator("split", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ValueError("split must be [train indices, test indices or {test name: indices}]")
        train = _as_index_list(value[0], "train")
        raw_test = value[1]
        tests = raw_test if isinstance(raw_test, Mapping) else {"test": raw_test}
        if not tests:
            raise ValueError("split: at least one test set is required")
        return train, {str(k): _as_index_list(v, f"test set {k!r}") for k, v in tests.items()}

    @field_validator("split")
    @classmethod
    def _split_rules(cls, value: SplitType) -> SplitType:
        train, tests = value
        if len(set(train)) != len(train):
            raise ValueError("split: the training set contains duplicate indices")
        train_set = set(train)
        for name, indices in tests.items():
            if not indices:
                raise ValueError(f"split: test set {name!r} is empty")
            if len(set(indices)) != len(indices):
                raise ValueError(f"split: test set {name!r} contains duplicate indices")
            overlap = train_set & set(indices)
            if overlap:
                raise ValueError(f"split: test set {name!r} overlaps the training set at {sorted(overlap)[:10]}")
        negative = [i for i in [*train, *(i for s in tests.values() for i in s)] if i < 0]
        if negative:
            raise ValueError(f"split: negative indices {sorted(set(negative))[:10]}")
        return value

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> Any:
        if isinstance(value, (str, Mapping, Metric)):
            return [value]
        return list(value) if isinstance(value, (tuple, set, frozenset)) else value

    @field_validator("metrics")
    @classmethod
    def _metrics_unique(cls, value: list[Metric]) -> list[Metric]:
        return unique_metrics(value)

    @field_validator("main_metric", mode="before")
    @classmethod
    def _main_metric(cls, value: Any) -> Any:
        return metric_name(value)

    @model_validator(mode="after")
    def _check(self) -> BenchmarkSpecification:
        self.main_metric = resolve_main_metric(self.metrics, self.main_metric)
        self._check_task()
        self._declared_types = {str(k): str(v) for k, v in self.target_types.items()}
        unfit = unfit_metrics(self.metrics, self._declared_types, self.target_cols)
        if unfit:
            raise ValueError("metrics: " + "; ".join(unfit))
        dataset = self.dataset
        if isinstance(dataset, DatasetV1):
            columns = set(dataset.columns)
            for field_name, cols in (("target_cols", self.target_cols), ("input_cols", self.input_cols)):
                missing = [c for c in cols if c not in columns]
                if missing:
                    raise ValueError(f"{field_name}: columns {missing} are not in the dataset")
            for m in self.metrics:
                if m.config is not None and m.config.group_by not in columns:
                    raise ValueError(f"metrics: {m.name!r} groups by {m.config.group_by!r}, not a dataset column")
            n_rows = dataset.n_rows
            if n_rows is not None:
                train, tests = self.split
                bad = sorted({i for i in [*train, *(i for s in tests.values() for i in s)] if i >= n_rows})
                if bad:
                    raise ValueError(f"split: indices {bad[:10]} are out of range for a dataset of {n_rows} rows")
            if dataset.table is not None:
                for target in self.target_cols:
                    if target not in self.target_types and pd.api.types.is_numeric_dtype(dataset.table[target]):
                        self.target_types[target] = "regression"
        unknown = sorted(set(self.target_types) - set(self.target_cols))
        if unknown:
            raise ValueError(f"target_types: {unknown} are not target columns")
        return self

    def _check_task(self) -> None:
        """Subclasses restrict the number of targets."""

    # -- derived fields -------------------------------------------------------------------------------------------

    @field_serializer("split")
    def _split_out(self, value: SplitType) -> list[Any]:
        return [list(value[0]), {k: list(v) for k, v in value[1].items()}]

    @field_serializer("metrics")
    def _metrics_out(self, value: list[Metric]) -> list[dict[str, Any]]:
        return [m.to_wire() for m in value]

    @property
    def main_metric_obj(self) -> Metric:
        return next(m for m in self.metrics if m.name == self.main_metric)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dataset_artifact_id(self) -> str | None:
        if self.dataset is not None:
            return self.dataset.artifact_id
        return self._dataset_artifact_id

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_train_datapoints(self) -> int:
        return len(self.split[0])

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_test_sets(self) -> int:
        return len(self.split[1])

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_test_datapoints(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.split[1].items()}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_classes(self) -> dict[str, int] | None:
        dataset = self.dataset
        if not isinstance(dataset, DatasetV1) or dataset.table is None:
            return self._wire_n_classes
        return {
            t: int(dataset.table[t].nunique(dropna=True))
            for t in self.target_cols
            if self.target_types.get(t) == "classification"
        }

    @computed_field  # type: ignore[prop-decorator]
    @property
    def task_type(self) -> TaskType:
        return "single_task" if len(self.target_cols) == 1 else "multi_task"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def test_set_labels(self) -> list[str]:
        return sorted(self.split[1])

    @computed_field  # type: ignore[prop-decorator]
    @property
    def test_set_sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.split[1].items()}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def md5sum(self) -> str | None:
        """Benchmark checksum (section 7.5): the Hub's value when set, else computed from the dataset's checksum."""
        if self._md5sum is None and isinstance(self.dataset, DatasetV1) and self.dataset.md5sum is not None:
            self._md5sum = self.compute_md5sum()
        return self._md5sum

    @md5sum.setter
    def md5sum(self, value: str) -> None:
        self._md5sum = require_md5(value, "md5sum")

    def compute_md5sum(self) -> str:
        """Recompute the checksum from the dataset's checksum, columns, metrics and split.

        Raises:
            InvalidArtifactError: the dataset (or its checksum) is not available.
        """
        dataset = self.dataset
        if not isinstance(dataset, DatasetV1) or dataset.md5sum is None:
            raise InvalidArtifactError("the benchmark checksum needs the dataset and its checksum")
        return checksum.benchmark_md5(dataset.md5sum, self.target_cols, self.input_cols, self.metrics, self.split)

    def verify_checksum(self, expected: str | None = None) -> None:
        """Compare the recomputed checksum with ``expected`` (default: the stored Hub value).

        Raises:
            PolarisChecksumError: they differ.
            InvalidArtifactError: nothing to compare with, or the dataset is not loaded.
        """
        target = expected if expected is not None else self._md5sum
        if target is None:
            raise InvalidArtifactError("no benchmark checksum to verify against")
        checksum.verify_md5(target, self.compute_md5sum(), artifact=self.artifact_id or self.name or "benchmark")

    # -- notebooks ------------------------------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        """A summary card in Jupyter: dataset, task, columns, split sizes and metrics."""
        fields = {
            "dataset": self.dataset_artifact_id,
            "task": self.task_type,
            "inputs": self.input_cols,
            "targets": self.target_cols,
            "train size": self.n_train_datapoints,
            "test sets": [f"{name} ({size})" for name, size in self.test_set_sizes.items()],
            "metrics": [m.name for m in self.metrics],
            "main metric": self.main_metric,
            "access": self.access,
        }
        kind = type(self).artifact_type.capitalize()
        return html_fields(f"{kind} {self.artifact_id or self.name or '(unnamed)'}", fields)

    # -- data -----------------------------------------------------------------------------------------------------

    def _require_dataset(self) -> DatasetV1:
        if not isinstance(self.dataset, DatasetV1) or self.dataset.table is None:
            raise InvalidArtifactError("this benchmark's dataset is not loaded (load the benchmark through the client)")
        return self.dataset

    def get_train_test_split(
        self, featurization_fn: Callable[[Any], Any] | None = None
    ) -> tuple[Subset, Subset | dict[str, Subset]]:
        """``(train, test)``; ``test`` is a dict by name when there are several test sets. Test targets are hidden.

        ``featurization_fn`` is applied to each input as it is read (``x`` of the subsets, their ``inputs``).

        Raises:
            InvalidArtifactError: the dataset is not loaded.
            TypeError: ``featurization_fn`` is not callable.
        """
        dataset = self._require_dataset()
        fn = check_featurization_fn(featurization_fn)
        train = Subset(dataset, self.split[0], self.input_cols, self.target_cols, featurization_fn=fn)
        tests = {
            name: Subset(dataset, idx, self.input_cols, self.target_cols, hide_targets=True, featurization_fn=fn)
            for name, idx in self.split[1].items()
        }
        if len(tests) == 1:
            return train, next(iter(tests.values()))
        return train, tests

    def _ground_truth(self) -> tuple[dict[str, dict[str, npt.NDArray[Any]]], dict[str, dict[str, npt.NDArray[Any]]]]:
        dataset = self._require_dataset()
        assert dataset.table is not None
        y_true: dict[str, dict[str, npt.NDArray[Any]]] = {}
        groups: dict[str, dict[str, npt.NDArray[Any]]] = {}
        group_cols = sorted({m.config.group_by for m in self.metrics if m.config is not None})
        for name in self.test_set_labels:
            idx = self.split[1][name]
            rows = dataset.table.iloc[idx]
            y_true[name] = {t: rows[t].to_numpy() for t in self.target_cols}
            groups[name] = {c: rows[c].to_numpy() for c in group_cols}
        return y_true, groups

    def evaluate(self, y_pred: Any = None, y_prob: Any = None) -> BenchmarkResults:
        """Score predictions on the test sets (section 10.2).

        Each metric scores the targets of a type it is defined for (``target_types``), so a multi-task benchmark
        can mix regression and classification targets.

        Raises:
            InvalidArtifactError: the dataset is not loaded.
            InvalidPredictionsError: NaN or wrong-typed predictions, or predictions a metric refuses (names the
                target and the test set).
            ValueError: predictions have the wrong shape/length, or a metric needs ``y_prob``/``y_pred`` not given.
            NotImplementedError: a metric that cannot be computed here (``rmsd_coverage``).
        """
        from polaris.artifacts.results import BenchmarkResults

        if y_pred is None and y_prob is None:
            raise ValueError("give y_pred and/or y_prob")
        y_true, groups = self._ground_truth()
        labels, sizes = self.test_set_labels, self.test_set_sizes
        pred = None if y_pred is None else normalize_predictions(y_pred, self.target_cols, labels, sizes)
        prob = None if y_prob is None else normalize_predictions(y_prob, self.target_cols, labels, sizes)
        records = score(self.metrics, y_true, pred, prob, groups=groups, target_types=self._declared_types)
        return BenchmarkResults(results=records, benchmark_artifact_id=self.artifact_id)

    # -- what polaris-lib users call -------------------------------------------------------------------------------

    def upload_to_hub(
        self,
        settings: Any = None,
        cache_auth_token: bool = True,
        access: AccessType | str = "private",
        owner: str | HubOwner | None = None,
        *,
        parent_artifact_id: str | None = None,
        **client_kwargs: Any,
    ) -> dict[str, Any]:
        """Upload this benchmark (its dataset must be on the Hub) with a client opened for the call; see
        :meth:`~polaris.hub.client.PolarisHubClient.upload_benchmark`.

        Accepts polaris-lib 0.10's ``upload_to_hub(settings, cache_auth_token, access, owner)`` and 0.12's
        ``upload_to_hub(owner, parent_artifact_id=...)``. Returns the Hub's JSON answer.
        """
        return upload_benchmark_to_hub(
            self, settings, cache_auth_token, access, owner, parent_artifact_id=parent_artifact_id, **client_kwargs
        )

    def to_json(self, destination: str | os.PathLike[str]) -> str:
        """Save the benchmark as ``destination/benchmark.json`` with its dataset beside it (see
        ``DatasetV1.to_json``); returns the file's path. ``polaris.load_benchmark(path)`` reads it back.

        Raises:
            InvalidArtifactError: the dataset is not loaded.
        """
        return benchmark_to_json(self, destination)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Any:
        """Read a benchmark saved by :meth:`to_json` (with its dataset).

        Raises:
            FileNotFoundError: no such file. pydantic.ValidationError: the file breaks a rule.
        """
        return benchmark_from_json(cls, path, DatasetV1)

    # -- wire -----------------------------------------------------------------------------------------------------

    def check_uploadable(self) -> None:
        """Raise before anything is sent if the Hub would refuse this benchmark.

        Raises:
            InvalidArtifactError: no name/owner, no dataset id, or a target without a type.
        """
        if not self.name:
            raise InvalidArtifactError("benchmark.name is required to upload a benchmark")
        if self.owner is None:
            raise InvalidArtifactError("benchmark.owner is required to upload a benchmark")
        if self.dataset_artifact_id is None:
            raise InvalidArtifactError("benchmark.dataset must be an uploaded dataset (owner and name set)")
        missing = [t for t in self.target_cols if t not in self.target_types]
        if missing:
            raise InvalidArtifactError(f"target_types: give a type for non-numeric targets {missing}")

    def to_wire(self) -> dict[str, Any]:
        """The PUT ``/v1/benchmark`` body (dataset excluded; ``datasetArtifactId`` and the computed fields included)."""
        body = self.to_wire_base()
        access = body.pop("access", "private")
        body["access"] = access  # appended last, like the reference client
        return body

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], **extra: Any) -> Any:
        """Parse a Hub benchmark; on the base class, picks the single- or multi-task class from ``targetCols``.

        Raises:
            pydantic.ValidationError: the data breaks a rule (the error names the field).
        """
        if cls is BenchmarkSpecification:
            cols = extra.get("target_cols", data.get("targetCols", data.get("target_cols", [])))
            n_targets = 1 if isinstance(cols, str) else len(cols)
            target = SingleTaskBenchmarkSpecification if n_targets == 1 else MultiTaskBenchmarkSpecification
            return target.from_wire(data, **extra)
        return super().from_wire(data, **extra)


class SingleTaskBenchmarkSpecification(BenchmarkSpecification):
    """A benchmark with exactly one target column."""

    def _check_task(self) -> None:
        if len(self.target_cols) != 1:
            raise ValueError(f"target_cols: a single-task benchmark needs exactly 1 target, got {self.target_cols}")


class MultiTaskBenchmarkSpecification(BenchmarkSpecification):
    """A benchmark with two or more target columns."""

    def _check_task(self) -> None:
        if len(self.target_cols) < 2:
            raise ValueError(f"target_cols: a multi-task benchmark needs at least 2 targets, got {self.target_cols}")

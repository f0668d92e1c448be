"""V2 benchmarks: a benchmark on a Zarr-only ``DatasetV2`` whose split is two Roaring index sets (0.11-0.13 facts, 5).

The split has exactly one training set (may be empty) and one test set named ``test``; both are stored as
``.roaring`` objects next to the benchmark, and the metadata carries only ``{datapoints, md5Checksum}`` of each.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy.typing as npt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    computed_field,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from polaris.artifacts._base import VersionedArtifactModel
from polaris.artifacts._benchmark_common import (
    DatasetReference,
    benchmark_from_json,
    benchmark_to_json,
    metric_name,
    resolve_main_metric,
    unique_metrics,
    upload_benchmark_to_hub,
)
from polaris.artifacts._zarr_subset import ZarrSubset, column_values
from polaris.artifacts.dataset import DatasetV2
from polaris.artifacts.index_set import IndexSet
from polaris.errors import InvalidArtifactError
from polaris.evaluate import Metric, normalize_predictions, score
from polaris.types import AccessType, HubOwner, TargetType, TaskType

if TYPE_CHECKING:
    from polaris.artifacts.results import BenchmarkResults

__all__ = ["SPLIT_KEYS", "TEST_SET_NAME", "BenchmarkV2Specification", "SplitV2", "check_index_sets"]

logger = logging.getLogger(__name__)

#: The one test set of a V2 benchmark.
TEST_SET_NAME = "test"
#: Keys of the ``split`` object, in the order the index sets are stored.
SPLIT_KEYS = ("training", "test")


class SplitV2(BaseModel):
    """``training`` and ``test`` index sets; the test set must not be empty and the two must not overlap.

    Raises (on construction):
        pydantic.ValidationError: an empty test set, or rows in both sets.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    training: IndexSet = Field(default_factory=lambda: IndexSet.from_indices([]))
    test: IndexSet

    @field_validator("training", "test", mode="before")
    @classmethod
    def _index_set(cls, value: Any) -> Any:
        if isinstance(value, IndexSet):
            return value
        if isinstance(value, Mapping):
            return IndexSet.model_validate(value)
        if isinstance(value, (str, bytes)):
            raise ValueError("an index set is a list of row positions or {datapoints, md5Checksum}")
        return IndexSet.from_indices(value)

    @model_validator(mode="before")
    @classmethod
    def _test_sets(cls, data: Any) -> Any:
        """polaris-lib 0.13 writes ``test_sets={"test": ...}``; one test set, named ``test``, is what the Hub keeps."""
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        tests = out.pop("test_sets", out.pop("testSets", None))
        if tests is not None:
            if not isinstance(tests, Mapping) or list(tests) != [TEST_SET_NAME]:
                raise ValueError(f"split: a V2 benchmark has exactly one test set, named {TEST_SET_NAME!r}")
            if "test" in out:
                raise ValueError("split: give test or test_sets, not both")
            out["test"] = tests[TEST_SET_NAME]
        return out

    @model_validator(mode="after")
    def _rules(self) -> SplitV2:
        if self.test.datapoints == 0:
            raise ValueError("split: the test set is empty")
        if self.training.is_loaded and self.test.is_loaded:
            count, first = self.training.overlap(self.test)  # on the bitmaps: no row is expanded
            if count:
                raise ValueError(f"split: the test set overlaps the training set at {count} rows, first {first}")
        return self

    def check_rows(self, n_rows: int | None) -> None:
        """Every position of both sets must be a row of a dataset of ``n_rows`` rows (checked on the bitmaps).

        Raises:
            ValueError: a position at or beyond ``n_rows``.
        """
        if n_rows is None or not self.is_loaded:
            return
        top = self.max_index()
        if top is not None and top >= n_rows:
            raise ValueError(f"split: index {top} is out of range for a dataset of {n_rows} rows")

    @property
    def is_loaded(self) -> bool:
        return self.training.is_loaded and self.test.is_loaded

    # polaris-lib 0.12-0.13 reads a split through these
    @property
    def test_sets(self) -> dict[str, IndexSet]:
        """``{"test": test}`` (polaris-lib 0.13)."""
        return {TEST_SET_NAME: self.test}

    def test_items(self) -> Iterator[tuple[str, IndexSet]]:
        """``(label, index set)`` of each test set (polaris-lib 0.13)."""
        yield TEST_SET_NAME, self.test

    @property
    def n_train_datapoints(self) -> int:
        return self.training.datapoints

    @property
    def n_test_sets(self) -> int:
        return 1

    @property
    def n_test_datapoints(self) -> dict[str, int]:
        return {TEST_SET_NAME: self.test.datapoints}

    def index_sets(self) -> dict[str, IndexSet]:
        """``{"training": ..., "test": ...}``."""
        return {"training": self.training, "test": self.test}

    def max_index(self) -> int | None:
        values = [m for m in (self.training.max_index(), self.test.max_index()) if m is not None]
        return max(values) if values else None

    def to_wire(self) -> dict[str, Any]:
        """``{"training": {datapoints, md5Checksum}, "test": {...}}``."""
        return {key: s.to_wire() for key, s in self.index_sets().items()}


def check_index_sets(training: IndexSet, test: IndexSet, *, n_rows: int | None, artifact: str) -> SplitV2:
    """The split of two loaded index sets, checked on their bitmaps (overlap, empty test set, range) before the
    caller keeps them anywhere (a cache entry included).

    Raises:
        InvalidArtifactError: the sets overlap, the test set is empty, or a position is beyond ``n_rows``.
    """
    from pydantic import ValidationError

    try:
        split = SplitV2(training=training, test=test)
        split.check_rows(n_rows)
    except (ValidationError, ValueError) as exc:
        detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise InvalidArtifactError(
            f"the index sets of {artifact} are refused: {detail}",
            hint="The benchmark on the Hub is inconsistent with its dataset; nothing was cached. Tell its owner.",
        ) from exc
    return split


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return list(value) if isinstance(value, (tuple, set, frozenset)) else value


class BenchmarkV2Specification(VersionedArtifactModel):
    """A benchmark on a :class:`~polaris.artifacts.DatasetV2` with a :class:`SplitV2` (one test set, ``test``).

    ``dataset`` is the loaded DatasetV2 (needed for splits and evaluation) or, parsed from the Hub alone, a
    :class:`~polaris.artifacts.DatasetReference`. Target types are not inferred (the Hub gets ``{}`` unless given).

    Raises (on construction):
        pydantic.ValidationError: a rule is broken (columns not in the dataset, an index beyond its rows, ...).
    """

    artifact_type = "benchmark"

    dataset: DatasetV2 | DatasetReference | None = Field(default=None, exclude=True)
    target_cols: list[str]
    input_cols: list[str]
    split: SplitV2
    metrics: list[Metric]
    main_metric: str | None = None
    readme: str = ""
    target_types: dict[str, TargetType] = Field(default_factory=dict)
    access: AccessType = "private"

    _dataset_artifact_id: str | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _hub_values(cls, data: Any, handler: Any) -> Any:
        dataset_id = None
        if isinstance(data, dict):
            dataset_id = data.get("datasetArtifactId", data.get("dataset_artifact_id"))
        obj = handler(data)
        if isinstance(obj, BenchmarkV2Specification) and isinstance(dataset_id, str):
            obj._dataset_artifact_id = dataset_id
        return obj

    @field_validator("dataset", mode="before")
    @classmethod
    def _dataset(cls, value: Any) -> Any:
        if value is None or isinstance(value, (DatasetV2, DatasetReference)):
            return value
        if isinstance(value, Mapping):
            return DatasetReference.model_validate(value)
        raise ValueError(f"dataset must be a DatasetV2 or {{owner, name}}, got {type(value).__name__}")

    @field_validator("target_cols", "input_cols", mode="before")
    @classmethod
    def _cols(cls, value: Any) -> Any:
        return _as_list(value)

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
        if isinstance(value, (list, tuple)) and len(value) == 2 and not isinstance(value[1], Mapping):
            return SplitV2(training=value[0], test=value[1])
        if isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[1], Mapping):
            tests = dict(value[1])
            if list(tests) != [TEST_SET_NAME]:
                raise ValueError(f"split: a V2 benchmark has exactly one test set named {TEST_SET_NAME!r}")
            return SplitV2(training=value[0], test=tests[TEST_SET_NAME])
        return value

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> Any:
        if isinstance(value, (str, Mapping, Metric)):
            return [value]
        return _as_list(value)

    @field_validator("metrics")
    @classmethod
    def _metrics_unique(cls, value: list[Metric]) -> list[Metric]:
        return unique_metrics(value)

    @field_validator("main_metric", mode="before")
    @classmethod
    def _main_metric(cls, value: Any) -> Any:
        return metric_name(value)

    @model_validator(mode="after")
    def _check(self) -> BenchmarkV2Specification:
        self.main_metric = resolve_main_metric(self.metrics, self.main_metric)
        unknown = sorted(set(self.target_types) - set(self.target_cols))
        if unknown:
            raise ValueError(f"target_types: {unknown} are not target columns")
        dataset = self.dataset
        if isinstance(dataset, DatasetV2):
            columns = set(dataset.columns)
            for field_name, cols in (("target_cols", self.target_cols), ("input_cols", self.input_cols)):
                missing = [c for c in cols if c not in columns]
                if missing:
                    raise ValueError(f"{field_name}: columns {missing} are not in the dataset")
            for m in self.metrics:
                if m.config is not None and m.config.group_by not in columns:
                    raise ValueError(f"metrics: {m.name!r} groups by {m.config.group_by!r}, not a dataset column")
            self.split.check_rows(dataset.n_rows)
        return self

    # -- derived fields -------------------------------------------------------------------------------------------

    @field_serializer("split")
    def _split_out(self, value: SplitV2) -> dict[str, Any]:
        return value.to_wire()

    @field_serializer("metrics")
    def _metrics_out(self, value: list[Metric]) -> list[dict[str, Any]]:
        return [m.to_wire() for m in value]

    @property
    def main_metric_obj(self) -> Metric:
        return next(m for m in self.metrics if m.name == self.main_metric)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dataset_artifact_id(self) -> str | None:
        if self.dataset is not None and self.dataset.artifact_id is not None:
            return self.dataset.artifact_id
        return self._dataset_artifact_id

    @computed_field  # type: ignore[prop-decorator]
    @property
    def version(self) -> int:
        """The artifact generation the Hub files this under (2)."""
        return 2

    def _repr_html_(self) -> str:
        """A summary card in Jupyter: dataset, task, columns, split sizes and metrics."""
        from polaris.artifacts._base import html_fields

        fields = {
            "version": "V2",
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
        return html_fields(f"Benchmark {self.artifact_id or self.name or '(unnamed)'}", fields)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_train_datapoints(self) -> int:
        return self.split.training.datapoints

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_test_sets(self) -> int:
        return 1

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_test_datapoints(self) -> dict[str, int]:
        return {TEST_SET_NAME: self.split.test.datapoints}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_classes(self) -> dict[str, int]:
        return {}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def task_type(self) -> TaskType:
        return "single_task" if len(self.target_cols) == 1 else "multi_task"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def test_set_labels(self) -> list[str]:
        return [TEST_SET_NAME]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def test_set_sizes(self) -> dict[str, int]:
        return {TEST_SET_NAME: self.split.test.datapoints}

    # -- data -----------------------------------------------------------------------------------------------------

    def _require_dataset(self) -> DatasetV2:
        if not isinstance(self.dataset, DatasetV2):
            raise InvalidArtifactError("this benchmark's dataset is not loaded (load the benchmark through the client)")
        if not self.split.is_loaded:
            raise InvalidArtifactError("this benchmark's index sets are not loaded (load it through the client)")
        return self.dataset

    def get_train_test_split(
        self, featurization_fn: Callable[[Any], Any] | None = None
    ) -> tuple[ZarrSubset, ZarrSubset]:
        """``(train, test)``; the test targets are hidden; ``featurization_fn`` is applied to each input.

        The test subset is labelled ``"test"``: code written for polaris-lib 0.13, which returns
        ``(train, {"test": test})``, reads it as ``test["test"]`` or ``test.items()``; 0.11 code uses it directly.

        Raises:
            InvalidArtifactError: the dataset or the index sets are not loaded.
            TypeError: ``featurization_fn`` is not callable.
        """
        dataset = self._require_dataset()
        fn = featurization_fn
        train = ZarrSubset(dataset, self.split.training.indices, self.input_cols, self.target_cols, featurization_fn=fn)
        test = ZarrSubset(
            dataset,
            self.split.test.indices,
            self.input_cols,
            self.target_cols,
            hide_targets=True,
            featurization_fn=fn,
            label=TEST_SET_NAME,
        )
        return train, test

    def _ground_truth(self) -> tuple[dict[str, dict[str, npt.NDArray[Any]]], dict[str, dict[str, npt.NDArray[Any]]]]:
        dataset = self._require_dataset()
        idx = self.split.test.indices
        group_cols = sorted({m.config.group_by for m in self.metrics if m.config is not None})
        y_true = {TEST_SET_NAME: {t: column_values(dataset, t, idx) for t in self.target_cols}}
        groups = {TEST_SET_NAME: {c: column_values(dataset, c, idx) for c in group_cols}}
        return y_true, groups

    def evaluate(self, y_pred: Any = None, y_prob: Any = None) -> BenchmarkResults:
        """Score predictions on the test set, exactly as a V1 benchmark does.

        Raises:
            InvalidArtifactError: the dataset or the index sets are not loaded.
            ValueError: predictions have the wrong shape/length, or a metric needs ``y_prob``/``y_pred`` not given.
        """
        from polaris.artifacts.results import BenchmarkResults

        if y_pred is None and y_prob is None:
            raise ValueError("give y_pred and/or y_prob")
        y_true, groups = self._ground_truth()
        labels, sizes = self.test_set_labels, self.test_set_sizes
        pred = None if y_pred is None else normalize_predictions(y_pred, self.target_cols, labels, sizes)
        prob = None if y_prob is None else normalize_predictions(y_prob, self.target_cols, labels, sizes)
        records = score(self.metrics, y_true, pred, prob, groups=groups)
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
        """Upload this benchmark and its index sets (its dataset must be on the Hub) with a client opened for the
        call; same arguments as ``BenchmarkSpecification.upload_to_hub``. Returns the Hub's JSON answer."""
        return upload_benchmark_to_hub(
            self, settings, cache_auth_token, access, owner, parent_artifact_id=parent_artifact_id, **client_kwargs
        )

    def to_json(self, destination: str | os.PathLike[str]) -> str:
        """Save the benchmark (index sets as row lists) as ``destination/benchmark.json`` with its dataset beside
        it; returns the file's path.

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
        return benchmark_from_json(cls, path, DatasetV2)

    @property
    def submit_predictions(self) -> Any:
        """Not provided: polaris-lib 0.13's prediction upload for V2 benchmarks needs Hub endpoints this client does
        not speak.

        Raises:
            AttributeError: always, saying what to use instead.
        """
        raise AttributeError(
            "BenchmarkV2Specification.submit_predictions (polaris-lib 0.13) is not provided by polaris-hub-client: "
            "score the predictions locally with results = benchmark.evaluate(y_pred=...) and upload the scores with "
            "results.upload_to_hub(owner=...)"
        )

    # -- wire -----------------------------------------------------------------------------------------------------

    def check_uploadable(self) -> None:
        """Raise before anything is sent if the Hub would refuse this benchmark.

        Raises:
            InvalidArtifactError: no name/owner, no dataset id, or index sets without their rows.
        """
        if not self.name:
            raise InvalidArtifactError("benchmark.name is required to upload a benchmark")
        if self.owner is None:
            raise InvalidArtifactError("benchmark.owner is required to upload a benchmark")
        if self.dataset_artifact_id is None:
            raise InvalidArtifactError("benchmark.dataset must be an uploaded V2 dataset (owner and name set)")
        if not self.split.is_loaded:
            raise InvalidArtifactError("the benchmark's index sets must hold their rows to be uploaded")

    def to_wire(self) -> dict[str, Any]:
        """The PUT ``/v2/benchmark`` body: ``access`` and ``datasetArtifactId`` first, ``split`` as
        ``{training, test}`` of ``{datapoints, md5Checksum}``; no ``md5Sum``."""
        body = self.to_wire_base()
        out: dict[str, Any] = {"access": body.pop("access", "private")}
        if "datasetArtifactId" in body:
            out["datasetArtifactId"] = body.pop("datasetArtifactId")
        out["split"] = body.pop("split")
        out.update(body)
        return out

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], **extra: Any) -> Any:
        """Parse a ``GET /v2/benchmark`` answer; pass the loaded ``split`` (and ``dataset``) as keywords.

        Without a ``split`` keyword, the answer's ``split`` must be ``{training, test}`` of
        ``{datapoints, md5Checksum}`` (the rows then still need to be loaded).

        Raises:
            pydantic.ValidationError: the data breaks a rule.
        """
        cleaned = {k: v for k, v in dict(data).items() if k not in ("dataset", "version")}
        return super().from_wire(cleaned, **extra)

"""Checks of request bodies the local Hub applies on top of the OpenAPI request validation.

Every problem is collected into a list of ``{"field", "problem"}`` entries; :class:`BodyError` carries them.
Unknown top-level keys are refused (the lists below are every key a 0.10-0.13 client sends).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from polaris.types import MD5_PATTERN, SLUG_COMPATIBLE_PATTERN, SLUG_PATTERN, SUPPORTED_LICENSES

_MD5 = re.compile(MD5_PATTERN)
_SLUG = re.compile(SLUG_PATTERN)
_NAME = re.compile(SLUG_COMPATIBLE_PATTERN)
_VERSION = re.compile(r"^(dev|\d+(\.\d+)*([a-z]+\d*)?(\.post\d+)?(\.dev\d+)?(\+[A-Za-z0-9.]+)?)$")
MODALITIES = {"UNKNOWN", "MOLECULE", "MOLECULE_3D", "PROTEIN", "PROTEIN_3D", "IMAGE"}
ADAPTERS = {"SMILES_TO_MOL", "BYTES_TO_MOL", "ARRAY_TO_PDB"}
TARGET_TYPES = {"regression", "classification", "docking"}
TASK_TYPES = {"single_task", "multi_task"}

BASE_KEYS = {
    "name", "description", "tags", "userAttributes", "owner", "polarisVersion", "slug", "artifactId", "urn",
    "access", "version", "parentArtifactId",
}  # fmt: skip
DATASET_COMMON_KEYS = {
    "defaultAdapters", "zarrRootPath", "readme", "annotations", "source", "license", "curationReference",
    "nRows", "nColumns",
}  # fmt: skip
VERSION_KEYS = {"artifactVersion", "artifactChangelog"}  # 0.12+ on datasets, benchmarks and models
DATASET_V1_KEYS = (
    BASE_KEYS | VERSION_KEYS | DATASET_COMMON_KEYS | {"tableContent", "zarrContent", "md5Sum", "zarrMd5SumManifest"}
)
DATASET_V2_KEYS = BASE_KEYS | VERSION_KEYS | DATASET_COMMON_KEYS | {"zarrManifestFileContent", "zarrManifestMd5Sum"}
COMPETITION_DATASET_KEYS = (DATASET_V1_KEYS - VERSION_KEYS) | {"maskedMd5Sum"}
BENCHMARK_KEYS = BASE_KEYS | VERSION_KEYS | {
    "targetCols", "inputCols", "split", "metrics", "mainMetric", "readme", "targetTypes", "md5Sum",
    "datasetArtifactId", "nTrainDatapoints", "nTestSets", "nTestDatapoints", "nClasses", "taskType",
    "testSetLabels", "testSetSizes", "dataset",
}  # fmt: skip
COMPETITION_KEYS = (BENCHMARK_KEYS - VERSION_KEYS) | {"startTime", "endTime"}
BENCHMARK_V2_KEYS = BASE_KEYS | VERSION_KEYS | {
    "targetCols", "inputCols", "split", "metrics", "mainMetric", "readme", "targetTypes", "datasetArtifactId",
    "nTrainDatapoints", "nTestSets", "nTestDatapoints", "nClasses", "taskType", "testSetLabels", "testSetSizes",
}  # fmt: skip
RESULT_KEYS = BASE_KEYS | {
    "githubUrl", "paperUrl", "contributors", "results", "benchmarkArtifactId", "benchmarkName", "benchmarkOwner",
    "code_url", "report_url", "modelArtifactId",
}  # fmt: skip
MODEL_KEYS = BASE_KEYS | VERSION_KEYS | {"readme", "codeUrl", "reportUrl"}
PREDICTION_V1_KEYS = {
    "competitionArtifactId", "predictions", "name", "owner", "description", "tags", "userAttributes",
    "polarisVersion", "reportUrl", "githubUrl", "code_url", "contributors", "targetLabels", "testSetLabels",
    "testSetSizes", "slug", "artifactId", "urn", "version", "access",
}  # fmt: skip
PREDICTION_KEYS = {
    "predictions", "target_labels", "test_set_labels", "test_set_sizes", "name", "description", "tags",
    "user_attributes", "owner", "polaris_version", "github_url", "paper_url", "contributors", "access", "slug",
    "artifact_id", "urn", "targetLabels", "testSetLabels", "testSetSizes", "userAttributes", "polarisVersion",
    "githubUrl", "paperUrl", "artifactId", "competitionArtifactId",
}  # fmt: skip


class BodyError(Exception):
    """A request body breaks the rules; ``problems`` lists each one."""

    def __init__(self, problems: list[dict[str, str]], status: int = 422) -> None:
        self.problems = problems
        self.status = status
        first = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(f"invalid field '{first['field']}': {first['problem']}{more}")


class Checker:
    def __init__(self, body: Any, allowed: set[str]) -> None:
        self.problems: list[dict[str, str]] = []
        if not isinstance(body, dict):
            raise BodyError([{"field": "(body)", "problem": "must be a JSON object"}], status=400)
        self.body: dict[str, Any] = body
        for key in sorted(set(body) - allowed):
            self.fail(key, "unknown field")

    def fail(self, field: str, problem: str) -> None:
        self.problems.append({"field": field, "problem": problem})

    def done(self) -> None:
        if self.problems:
            raise BodyError(self.problems)

    def check(self, key: str, test: Callable[[Any], str | None], *, required: bool = False) -> Any:
        if key not in self.body or self.body[key] is None:
            if required:
                self.fail(key, "is required")
            return None
        problem = test(self.body[key])
        if problem:
            self.fail(key, problem)
            return None
        return self.body[key]


# ------------------------------------------------------------------ value tests (None = fine, str = problem)
def is_str(v: Any) -> str | None:
    return None if isinstance(v, str) else "must be a string"


def is_bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be a boolean"


def is_int(v: Any) -> str | None:
    return None if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else "must be a non-negative integer"


def is_name(v: Any) -> str | None:
    if not isinstance(v, str) or not _NAME.match(v) or not 4 <= len(v) <= 64:
        return "must be 4-64 characters of letters, digits, '_' or '-'"
    return None


def is_owner(v: Any) -> str | None:
    slug = v.get("slug") if isinstance(v, dict) else v
    if not isinstance(slug, str) or not _SLUG.match(slug) or not 4 <= len(slug) <= 64:
        return "must be an owner slug (4-64 characters of a-z, 0-9 and '-')"
    return None


def is_md5(v: Any) -> str | None:
    return None if isinstance(v, str) and _MD5.fullmatch(v) else "must be 32 lower-case hex digits"


def is_access(v: Any) -> str | None:
    return None if v in ("public", "private") else "must be 'public' or 'private'"


def is_license(v: Any) -> str | None:
    return None if v in SUPPORTED_LICENSES else f"must be one of {', '.join(SUPPORTED_LICENSES)}"


def is_url(v: Any) -> str | None:
    if not isinstance(v, str):
        return "must be a URL string"
    parts = urlsplit(v)
    return None if parts.scheme in ("http", "https") and parts.netloc else "must be an http(s) URL"


def is_version(v: Any) -> str | None:
    return None if isinstance(v, str) and _VERSION.match(v) else "must be 'dev' or a version like 0.10.0"


def list_of(test: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if not isinstance(v, list):
            return "must be a list"
        for i, item in enumerate(v):
            problem = test(item)
            if problem:
                return f"item {i} {problem}"
        return None

    return check


def map_of(test: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if not isinstance(v, dict):
            return "must be an object"
        for key, item in v.items():
            problem = test(item)
            if problem:
                return f"entry '{key}' {problem}"
        return None

    return check


def one_of(values: set[str]) -> Callable[[Any], str | None]:
    return lambda v: None if v in values else f"must be one of {', '.join(sorted(values))}"


def _annotation(v: Any) -> str | None:
    if not isinstance(v, dict):
        return "must be an object"
    if "isPointer" in v and not isinstance(v["isPointer"], bool):
        return "isPointer must be a boolean"
    if "modality" in v and (not isinstance(v["modality"], str) or v["modality"].upper() not in MODALITIES):
        return f"modality must be one of {', '.join(sorted(MODALITIES))}"
    if "userAttributes" in v and map_of(is_str)(v["userAttributes"]):
        return "userAttributes values must be strings"
    for key in ("description", "dtype", "contentType"):
        if v.get(key) is not None and not isinstance(v[key], str):
            return f"{key} must be a string"
    return None


def _table_content(v: Any) -> str | None:
    if not isinstance(v, dict):
        return "must be an object"
    if is_int(v.get("size")):
        return "size must be a non-negative integer"
    if v.get("fileType", "parquet") != "parquet":
        return "fileType must be 'parquet'"
    if is_md5(v.get("md5Sum")):
        return "md5Sum must be 32 lower-case hex digits"
    return None


def _file_entry(md5_key: str) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if not isinstance(v, dict) or not isinstance(v.get("path"), str):
            return "must be an object with a string 'path'"
        if is_md5(v.get(md5_key)):
            return f"{md5_key} must be 32 lower-case hex digits"
        if is_int(v.get("size")):
            return "size must be a non-negative integer"
        return None

    return check


# ------------------------------------------------------------------ artifacts
def _base(c: Checker, *, name_required: bool = False) -> None:
    c.check("name", is_name, required=name_required)
    c.check("description", is_str)
    c.check("tags", list_of(is_str))
    c.check("userAttributes", map_of(is_str))
    c.check("owner", is_owner)
    c.check("polarisVersion", is_version)
    c.check("access", is_access)
    for key in ("slug", "artifactId", "urn", "parentArtifactId", "artifactChangelog"):
        c.check(key, is_str)
    c.check("version", is_int)
    c.check("artifactVersion", is_int)


def _dataset_common(c: Checker) -> None:
    c.check("defaultAdapters", map_of(one_of(ADAPTERS)))
    c.check("zarrRootPath", is_str)
    c.check("readme", is_str)
    c.check("annotations", map_of(_annotation))
    c.check("source", is_url)
    c.check("license", is_license)
    c.check("curationReference", is_url)
    c.check("nRows", is_int)
    c.check("nColumns", is_int)


def check_dataset_v1(body: Any, *, competition: bool = False) -> dict[str, Any]:
    c = Checker(body, COMPETITION_DATASET_KEYS if competition else DATASET_V1_KEYS)
    _base(c)
    _dataset_common(c)
    c.check("tableContent", _table_content, required=True)
    c.check("zarrContent", list_of(_file_entry("md5sum")))
    c.check("zarrMd5SumManifest", list_of(_file_entry("md5Sum")))
    c.check("md5Sum", is_md5, required=True)
    if competition:
        c.check("maskedMd5Sum", is_md5)
    c.done()
    return c.body


def check_dataset_v2(body: Any) -> dict[str, Any]:
    c = Checker(body, DATASET_V2_KEYS)
    _base(c)
    _dataset_common(c)
    c.check(
        "zarrManifestFileContent",
        lambda v: None if isinstance(v, dict) and not is_md5(v.get("md5Sum")) else "must be {md5Sum: <md5>}",
        required=True,
    )
    c.check("zarrManifestMd5Sum", is_md5)
    c.done()
    return c.body


def _split(v: Any) -> str | None:
    index_list = list_of(is_int)
    if not isinstance(v, list) or len(v) != 2:
        return "must be [train_indices, test_indices_or_named_sets]"
    if index_list(v[0]):
        return "train indices must be a list of non-negative integers"
    test = v[1]
    if isinstance(test, list):
        return "test indices must not be empty" if not test else index_list(test)
    if isinstance(test, dict) and test:
        for name, indices in test.items():
            if index_list(indices) or not indices:
                return f"test set '{name}' must be a non-empty list of non-negative integers"
        return None
    return "test sets must be a non-empty list or an object of named lists"


def _metric(v: Any) -> str | None:
    from pydantic import ValidationError

    from polaris.evaluate import Metric

    try:
        Metric.model_validate(v)
    except (ValidationError, ValueError, TypeError) as exc:
        return f"is not a valid metric ({str(exc).splitlines()[0]})"
    return None


def _str_or_list(v: Any) -> str | None:
    if isinstance(v, str):
        return None
    return list_of(is_str)(v)


def check_benchmark(body: Any, *, competition: bool = False) -> dict[str, Any]:
    c = Checker(body, COMPETITION_KEYS if competition else BENCHMARK_KEYS)
    _base(c)
    c.check("targetCols", _str_or_list, required=True)
    c.check("inputCols", _str_or_list, required=True)
    c.check("split", _split, required=True)
    metrics = c.check("metrics", lambda v: list_of(_metric)(v) or (None if v else "must not be empty"), required=True)
    main = c.check("mainMetric", is_str, required=True)
    c.check("readme", is_str)
    c.check("targetTypes", map_of(one_of(TARGET_TYPES)))
    c.check("md5Sum", is_md5)
    c.check("datasetArtifactId", lambda v: None if isinstance(v, str) and v.count("/") == 1 else "must be 'owner/name'")
    c.check("taskType", one_of(TASK_TYPES))
    for key in ("nTrainDatapoints", "nTestSets"):
        c.check(key, is_int)
    for key in ("nTestDatapoints", "nClasses", "testSetSizes"):
        c.check(key, map_of(is_int))
    c.check("testSetLabels", list_of(is_str))
    c.check("dataset", lambda v: None if isinstance(v, dict) else "must be an object")
    if competition:
        c.check("startTime", is_str)
        c.check("endTime", is_str)
    if metrics and main is not None:
        from polaris.evaluate import Metric

        names = [Metric.model_validate(m).name for m in metrics]
        if len(set(names)) != len(names):
            c.fail("metrics", "metric names must be unique")
        if main not in names:
            c.fail("mainMetric", f"must be the name of one of the metrics {names}")
    _metrics_fit_targets(c, metrics)
    if not c.body.get("datasetArtifactId") and not isinstance(c.body.get("dataset"), dict):
        c.fail("datasetArtifactId", "is required")
    c.done()
    return c.body


def _result_record(v: Any) -> str | None:
    if not isinstance(v, dict):
        return "must be an object"
    test = v.get("testSet", v.get("test_set"))
    target = v.get("targetLabel", v.get("target_label"))
    if not isinstance(test, str) or not isinstance(target, str):
        return "needs string testSet and targetLabel"
    scores = v.get("scores")
    if not isinstance(scores, dict) or not scores:
        return "needs a non-empty scores object"
    for name, value in scores.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"score '{name}' must be a number or null"
    return None


def check_result(body: Any) -> dict[str, Any]:
    c = Checker(body, RESULT_KEYS)
    _base(c, name_required=True)
    for key in ("githubUrl", "paperUrl", "code_url", "report_url"):
        c.check(key, is_url)
    c.check("modelArtifactId", _artifact_id)
    c.check("contributors", list_of(is_name))
    c.check("results", lambda v: list_of(_result_record)(v) or (None if v else "must not be empty"), required=True)
    c.check(
        "benchmarkArtifactId", lambda v: None if isinstance(v, str) and v.count("/") == 1 else "must be 'owner/name'"
    )
    c.check("benchmarkName", is_str)
    c.check("benchmarkOwner", is_owner)
    if not c.body.get("benchmarkArtifactId") and not (c.body.get("benchmarkName") and c.body.get("benchmarkOwner")):
        c.fail("benchmarkArtifactId", "is required")
    c.done()
    return c.body


def _artifact_id(v: Any) -> str | None:
    return None if isinstance(v, str) and v.count("/") == 1 and all(v.split("/")) else "must be 'owner/name'"


def _index_set(v: Any) -> str | None:
    if not isinstance(v, dict) or set(v) - {"datapoints", "md5Checksum"}:
        return "must be {datapoints, md5Checksum}"
    if is_int(v.get("datapoints")):
        return "datapoints must be a non-negative integer"
    if is_md5(v.get("md5Checksum")):
        return "md5Checksum must be 32 lower-case hex digits"
    return None


def _split_v2(v: Any) -> str | None:
    if not isinstance(v, dict) or set(v) != {"training", "test"}:
        return "must be {training: {datapoints, md5Checksum}, test: {datapoints, md5Checksum}}"
    for name in ("training", "test"):
        problem = _index_set(v[name])
        if problem:
            return f"{name} {problem}"
    if v["test"]["datapoints"] == 0:
        return "the test set must not be empty"
    return None


def _metrics_fit_targets(c: Checker, metrics: Any) -> None:
    """Refuse metrics defined for none of the declared target types (e.g. ``roc_auc`` on a regression target)."""
    types, cols = c.body.get("targetTypes"), c.body.get("targetCols")
    if not metrics or not isinstance(types, dict) or not cols:
        return
    from polaris.evaluate.metrics import unfit_metrics

    targets = [cols] if isinstance(cols, str) else [str(t) for t in cols]
    try:
        problems = unfit_metrics(list(metrics), {str(k): str(v) for k, v in types.items()}, targets)
    except ValueError:
        return  # an invalid metric is reported by its own check
    for problem in problems:
        c.fail("metrics", problem)


def _metrics(c: Checker) -> None:
    metrics = c.check("metrics", lambda v: list_of(_metric)(v) or (None if v else "must not be empty"), required=True)
    main = c.check("mainMetric", is_str, required=True)
    if metrics and main is not None:
        from polaris.evaluate import Metric

        names = [Metric.model_validate(m).name for m in metrics]
        if len(set(names)) != len(names):
            c.fail("metrics", "metric names must be unique")
        if main not in names:
            c.fail("mainMetric", f"must be the name of one of the metrics {names}")


def check_benchmark_v2(body: Any) -> dict[str, Any]:
    """``PUT /v2/benchmark``: a V1-style task on a V2 dataset, with ``split`` = two index-set descriptions."""
    c = Checker(body, BENCHMARK_V2_KEYS)
    _base(c)
    c.check("targetCols", _str_or_list, required=True)
    c.check("inputCols", _str_or_list, required=True)
    c.check("split", _split_v2, required=True)
    _metrics(c)
    c.check("readme", is_str)
    c.check("targetTypes", map_of(one_of(TARGET_TYPES)))
    _metrics_fit_targets(c, c.body.get("metrics"))
    c.check("datasetArtifactId", _artifact_id, required=True)
    c.check("taskType", one_of(TASK_TYPES))
    for key in ("nTrainDatapoints", "nTestSets"):
        c.check(key, is_int)
    for key in ("nTestDatapoints", "nClasses", "testSetSizes"):
        c.check(key, map_of(is_int))
    c.check("testSetLabels", list_of(is_str))
    c.done()
    return c.body


def check_model(body: Any) -> dict[str, Any]:
    c = Checker(body, MODEL_KEYS)
    _base(c, name_required=True)
    c.check("readme", is_str)
    c.check("codeUrl", is_url)
    c.check("reportUrl", is_url)
    c.done()
    return c.body


def check_prediction_v1(body: Any) -> dict[str, Any]:
    """``POST /v1/competition-prediction`` (camelCase, nulls dropped)."""
    c = Checker(body, PREDICTION_V1_KEYS)
    c.check("competitionArtifactId", _artifact_id, required=True)
    c.check("predictions", lambda v: None if isinstance(v, dict | list) else "must be an object", required=True)
    c.check("name", is_name)
    c.check("owner", is_owner)
    c.check("description", is_str)
    c.check("tags", list_of(is_str))
    c.check("userAttributes", map_of(is_str))
    c.check("polarisVersion", is_version)
    for key in ("reportUrl", "githubUrl", "code_url"):
        c.check(key, is_url)
    c.check("contributors", list_of(is_str))
    c.done()
    return c.body


def check_predictions(body: Any) -> dict[str, Any]:
    c = Checker(body, PREDICTION_KEYS)
    c.check("predictions", lambda v: None if isinstance(v, dict | list) else "must be an object", required=True)
    c.done()
    return c.body

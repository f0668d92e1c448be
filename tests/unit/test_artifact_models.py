"""Artifact models: wire forms (Hub section 6), validation (section 8), benchmark checksum and evaluation."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import zarr
from pydantic import ValidationError
from sklearn import metrics as skm

from polaris.artifacts import (
    BenchmarkResults,
    BenchmarkSpecification,
    ColumnAnnotation,
    CompetitionPredictions,
    CompetitionResults,
    CompetitionSpecification,
    DatasetReference,
    DatasetV1,
    DatasetV2,
    Modality,
    MultiTaskBenchmarkSpecification,
    SingleTaskBenchmarkSpecification,
    parse_pointer,
)
from polaris.errors import InvalidArtifactError, LicenseRequiredError

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "checksum-vectors.json").read_text()
)

DATASET_PUT_EXAMPLE = json.loads(
    """{"tableContent":{"size":2232,"fileType":"parquet","md5Sum":"977cdea1807d58d1d83986695e50e21b"},"zarrContent":[],
 "access":"private","name":"plain_data","description":"plain","tags":[],"userAttributes":{},"owner":"org-a",
 "polarisVersion":"0.10.0","defaultAdapters":{},"readme":"",
 "annotations":{"smiles":{"isPointer":false,"modality":"UNKNOWN","userAttributes":{},"dtype":"object"},
 "y":{"isPointer":false,"modality":"UNKNOWN","userAttributes":{},"dtype":"float64"}},"license":"CC0-1.0",
 "md5Sum":"cdd180cc38bc6c46667db4b62d18e1c9","slug":"plain-data","artifactId":"org-a/plain-data",
 "urn":"urn:polaris:dataset:org-a:plain-data","nRows":6,"nColumns":2,"zarrMd5SumManifest":[]}"""
)

RESULTS_EXAMPLE = json.loads(
    """{"access":"private","name":"my-res","description":"","tags":[],"userAttributes":{},"owner":"me-user",
 "polarisVersion":"0.10.0","contributors":[],"results":[{"testSet":"test","targetLabel":"y",
 "scores":{"r2":-12.5,"mean_absolute_error":0.3}}],"benchmarkArtifactId":"org-a/bench-one","slug":"my-res",
 "artifactId":"me-user/my-res","urn":"urn:polaris:result:me-user:my-res"}"""
)

PREDICTIONS_EXAMPLE = json.loads(
    """{"predictions":{"test":{"y":[1.0,2.0,3.0]}},"target_labels":["y"],"test_set_labels":["test"],
 "test_set_sizes":{"test":3},"name":null,"description":"","tags":[],"user_attributes":{},"owner":null,
 "polaris_version":"0.10.0","github_url":null,"paper_url":null,"contributors":[],"access":"private","slug":null,
 "artifact_id":null,"urn":null}"""
)


def json_round_trip(data: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(data, allow_nan=False)  # NaN must never reach the wire
    result: dict[str, Any] = json.loads(text)
    return result


def small_table(n: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "smiles": pd.Series([f"C{'C' * i}O" for i in range(n)], dtype=object),
            "y": np.linspace(0.5, 5.0, n),
            "y2": np.arange(n, dtype=float) ** 0.5,
            "cls": pd.Series(["a", "b"] * (n // 2), dtype=object),
        }
    )


def make_dataset(**kwargs: Any) -> DatasetV1:
    defaults: dict[str, Any] = {"table": small_table(), "name": "data-one", "owner": "org-a", "license": "MIT"}
    defaults.update(kwargs)
    return DatasetV1(**defaults)


def make_benchmark(**kwargs: Any) -> SingleTaskBenchmarkSpecification:
    defaults: dict[str, Any] = {
        "dataset": make_dataset(),
        "name": "bench-one",
        "owner": "org-a",
        "target_cols": "y",
        "input_cols": ["smiles"],
        "split": ([0, 1, 2, 3, 4, 5], [6, 7, 8, 9]),
        "metrics": ["mean_absolute_error", "r2"],
        "main_metric": "r2",
    }
    defaults.update(kwargs)
    return SingleTaskBenchmarkSpecification(**defaults)


def write_zarr_vector(root: Path) -> dict[str, Any]:
    vector: dict[str, Any] = VECTORS["zarr_datasets"][0]
    for rel, b64 in vector["zarr_files"].items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(b64))
    return vector


# ---------------------------------------------------------------------------------------------------------------------
# DatasetV1
# ---------------------------------------------------------------------------------------------------------------------


def test_dataset_put_example_parses_and_serialises_back() -> None:
    ds = DatasetV1.from_wire(DATASET_PUT_EXAMPLE)
    assert ds.md5sum == "cdd180cc38bc6c46667db4b62d18e1c9"
    assert ds.owner is not None and ds.owner.slug == "org-a"
    assert ds.n_rows == 6 and ds.n_columns == 2
    assert ds.annotations["smiles"].modality is Modality.UNKNOWN
    assert ds.to_wire(table_content=DATASET_PUT_EXAMPLE["tableContent"]) == DATASET_PUT_EXAMPLE


def test_dataset_get_response_with_owner_object() -> None:
    response = {**DATASET_PUT_EXAMPLE, "owner": {"slug": "org-a", "externalId": "org_123", "type": "organization"}}
    response["zarrRootPath"] = "polarisfs://data.zarr"
    table = pd.DataFrame({"smiles": ["C"] * 6, "y": np.arange(6.0)})
    ds = DatasetV1.from_wire(response, table=table)
    assert ds.owner is not None and ds.owner.external_id == "org_123"
    assert ds.zarr_root_path is None  # the Hub's placeholder is discarded
    assert ds.md5sum == "cdd180cc38bc6c46667db4b62d18e1c9"  # the Hub's value, not recomputed
    assert ds.to_wire()["owner"] == "org-a"


def test_dataset_from_table_fills_annotations_and_checksum() -> None:
    vector = next(v for v in VECTORS["tables"] if v["name"] == "strings_nan")
    table = pd.DataFrame(
        {
            "smiles": pd.Series(vector["columns"]["smiles"]["values"], dtype="str"),
            "y": [np.nan if v is None else v for v in vector["columns"]["y"]["values"]],
        }
    )
    ds = DatasetV1(
        table=table,
        name="My_Dataset",
        owner="org-a",
        license="CC-BY-4.0",
        annotations={"smiles": {"modality": "molecule", "contentType": "chemical/x-smiles"}},
        default_adapters={"smiles": "smiles_to_mol"},
        source="https://example.org/data",
    )
    assert ds.md5sum == vector["md5Sum"]
    assert set(ds.annotations) == {"smiles", "y"}
    assert ds.annotations["smiles"].dtype == "object"  # pandas 3's `str` reported as the numpy name
    wire = ds.to_wire()
    assert wire["annotations"]["smiles"]["modality"] == "MOLECULE"
    assert wire["annotations"]["smiles"]["contentType"] == "chemical/x-smiles"
    assert wire["defaultAdapters"] == {"smiles": "SMILES_TO_MOL"}
    assert wire["slug"] == "my-dataset" and wire["artifactId"] == "org-a/my-dataset"
    assert wire["urn"] == "urn:polaris:dataset:org-a:my-dataset"
    assert wire["md5Sum"] == vector["md5Sum"] and wire["nRows"] == 5 and wire["nColumns"] == 2
    assert wire["zarrContent"] == [] and wire["zarrMd5SumManifest"] == []
    assert "table" not in wire and "zarrRootPath" not in wire
    # JSON round trip
    again = DatasetV1.from_wire(json_round_trip(wire), table=table)
    assert again.to_wire() == wire


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"license": "GPL-3.0"}, "license"),
        ({"name": "a b"}, "name"),
        ({"name": "abc"}, "name"),
        ({"source": "ftp://x"}, "source"),
        ({"curation_reference": "not a url"}, "curation_reference"),
        ({"annotations": {"nope": {}}}, "annotations"),
        ({"default_adapters": {"nope": "SMILES_TO_MOL"}}, "default_adapters"),
        ({"default_adapters": {"smiles": "NOT_AN_ADAPTER"}}, "default_adapters"),
        ({"annotations": {"smiles": {"isPointer": True}}}, "zarr_root_path"),
        ({"zarr_root_path": "/tmp/x.zarr"}, "zarr_root_path"),
        ({"polaris_version": "not-a-version"}, "polaris_version"),
        ({"user_attributes": {"k": 1}}, "user_attributes"),
        ({"table": pd.DataFrame([[1, 2]], columns=["a", "a"])}, "table"),
    ],
)
def test_dataset_validation_errors_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        make_dataset(**kwargs)
    assert field in str(info.value)


def test_dataset_accepts_dev_version_and_md5_setter_validates() -> None:
    ds = make_dataset(polaris_version="dev")
    assert ds.polaris_version == "dev"
    assert make_dataset(polaris_version="0.10.0rc1.post2").polaris_version == "0.10.0rc1.post2"
    with pytest.raises(InvalidArtifactError, match="32 lowercase hex"):
        ds.md5sum = "XYZ"
    with pytest.raises(ValidationError, match="md5sum must be 32 lowercase hex"):
        DatasetV1.from_wire({**DATASET_PUT_EXAMPLE, "md5Sum": "123"})


def test_check_uploadable() -> None:
    with pytest.raises(LicenseRequiredError):
        make_dataset(license=None).check_uploadable()
    with pytest.raises(InvalidArtifactError, match="owner"):
        make_dataset(owner=None).check_uploadable()
    make_dataset().check_uploadable()


def test_pointer_dataset_checksum_manifest_and_data(tmp_path: Path) -> None:
    vector = write_zarr_vector(tmp_path / "data.zarr")
    table = pd.DataFrame(
        {"img": pd.Series(vector["columns"]["img"]["values"], dtype=object), "y": vector["columns"]["y"]["values"]}
    )
    ds = DatasetV1(
        table=table,
        annotations={"img": ColumnAnnotation(is_pointer=True, modality=Modality.IMAGE)},
        zarr_root_path=str(tmp_path / "data.zarr"),
        name="zz-data",
        owner="org-a",
        license="MIT",
    )
    assert ds.md5sum == vector["md5Sum"]
    np.testing.assert_array_equal(ds.get_data(1, "img"), np.arange(4, 8, dtype=float))
    assert ds.get_data(1, "y") == pytest.approx(1 / 3)
    wire = ds.to_wire()
    assert wire["zarrRootPath"] == "polarisfs://data.zarr"
    assert [e["path"] for e in wire["zarrContent"]] == sorted(vector["zarr_files"])
    assert all(set(e) == {"path", "md5sum", "size"} for e in wire["zarrContent"])
    assert all(set(e) == {"path", "md5Sum", "size"} for e in wire["zarrMd5SumManifest"])
    assert [e["md5sum"] for e in wire["zarrContent"]] == [e["md5Sum"] for e in wire["zarrMd5SumManifest"]]
    # a client-opened group can be given instead of a path (e.g. remote data)
    remote = DatasetV1.from_wire(json_round_trip(wire), table=table, zarr_root_path="polarisfs://bucket/ds/data.zarr")
    assert remote.md5sum == vector["md5Sum"]
    with pytest.raises(InvalidArtifactError, match="remote"):
        remote.get_data(0, "img")
    remote.zarr_root = zarr.open_group(str(tmp_path / "data.zarr"), mode="r")
    np.testing.assert_array_equal(remote.get_data(0, "img"), np.arange(4, dtype=float))
    with pytest.raises(InvalidArtifactError, match="local directory"):
        remote.check_uploadable()


def test_parse_pointer() -> None:
    assert parse_pointer("arr") == ("arr", None)
    assert parse_pointer("grp/arr#3") == ("grp/arr", 3)
    assert parse_pointer("arr#2:5") == ("arr", slice(2, 5))
    with pytest.raises(ValueError, match="invalid Zarr pointer"):
        parse_pointer("arr#x")


# ---------------------------------------------------------------------------------------------------------------------
# DatasetV2
# ---------------------------------------------------------------------------------------------------------------------


def make_v2_archive(path: Path, *, index_len: int = 4, x_len: int = 4) -> Path:
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    root.create_array("x", shape=(x_len,), dtype="f8")[:] = np.arange(x_len, dtype=float)
    group = root.create_group("conformers")
    for i in range(4):
        group.create_array(f"m{i}", shape=(3,), dtype="i4")[:] = i
    index = group.create_array("__index__", shape=(index_len,), dtype="i8")
    index[:] = np.arange(index_len)
    return path


def test_dataset_v2_layout_and_wire(tmp_path: Path) -> None:
    path = tmp_path / "v2.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    root.create_array("x", shape=(4,), dtype="f8")[:] = np.arange(4, dtype=float)
    group = root.create_group("conformers")
    for i in range(4):
        group.create_array(f"m{i}", shape=(3,), dtype="i4")[:] = i
    names = group.create_array("__index__", shape=(4,), dtype=str)
    names[:] = np.array([f"m{i}" for i in range(4)])
    ds = DatasetV2(zarr_root_path=str(path), name="v2-data", owner="org-a", license="MIT")
    assert ds.n_rows == 4 and ds.n_columns == 2
    assert ds.annotations["conformers"].dtype == "object" and ds.annotations["x"].dtype == "float64"
    assert ds.get_data(2, "x") == 2.0
    np.testing.assert_array_equal(ds.get_data(3, "conformers"), [3, 3, 3])
    md5 = ds.write_manifest(tmp_path / "cache" / "zarr_manifest.parquet")
    assert ds.zarr_manifest_md5sum == md5
    wire = ds.to_wire()
    assert wire["zarrManifestFileContent"] == {"md5Sum": md5} and wire["zarrManifestMd5Sum"] == md5
    assert wire["nRows"] == 4 and "md5Sum" not in wire and "tableContent" not in wire
    ds.check_uploadable()
    parsed = DatasetV2.from_wire(json_round_trip(wire))
    assert parsed.zarr_manifest_md5sum == md5 and parsed.n_rows == 4
    assert parsed.to_wire() == wire


def test_dataset_v2_layout_errors(tmp_path: Path) -> None:
    bad_groups = tmp_path / "bad.zarr"
    root = zarr.open_group(str(bad_groups), mode="w", zarr_format=2)
    root.create_array("x", shape=(4,), dtype="f8")
    grp = root.create_group("g")
    grp.create_array("a", shape=(1,), dtype="f8")
    with pytest.raises(ValidationError, match="no __index__"):
        DatasetV2(zarr_root_path=str(bad_groups))
    bad_len = tmp_path / "bad_len.zarr"
    root = zarr.open_group(str(bad_len), mode="w", zarr_format=2)
    root.create_array("x", shape=(4,), dtype="f8")
    root.create_array("z", shape=(5,), dtype="f8")
    with pytest.raises(ValidationError, match="different lengths"):
        DatasetV2(zarr_root_path=str(bad_len))


# ---------------------------------------------------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------------------------------------------------


def test_benchmark_md5_matches_vector() -> None:
    vector = VECTORS["benchmarks"][0]
    n = 100
    table = pd.DataFrame({"smiles": [f"C{i}" for i in range(n)], "y": np.arange(n, dtype=float)})
    ds = DatasetV1(table=table, name="vector-data", owner="org-a", license="MIT")
    ds.md5sum = vector["datasetMd5Sum"]
    bench = SingleTaskBenchmarkSpecification(
        dataset=ds,
        name=vector["name"],
        owner="org-a",
        target_cols=vector["targetCols"],
        input_cols=vector["inputCols"],
        split=vector["split"],
        metrics=vector["metrics"],
        main_metric="r2",
    )
    assert bench.md5sum == vector["md5Sum"]
    assert bench.to_wire()["md5Sum"] == vector["md5Sum"]
    bench.verify_checksum(vector["md5Sum"])
    from polaris.errors import PolarisChecksumError

    with pytest.raises(PolarisChecksumError):
        bench.verify_checksum("0" * 32)


def test_benchmark_wire_form_and_round_trip() -> None:
    bench = make_benchmark(
        metrics=["mean_absolute_error", "r2", {"label": "pearsonr", "config": {"group_by": "cls"}}],
        readme="# hello",
    )
    wire = bench.to_wire()
    assert wire["targetCols"] == ["y"] and wire["inputCols"] == ["smiles"]
    assert wire["split"] == [[0, 1, 2, 3, 4, 5], {"test": [6, 7, 8, 9]}]
    assert wire["metrics"][2] == {
        "label": "pearsonr",
        "config": {"group_by": "cls", "on_error": "raise", "aggregation": "mean"},
        "kind": "grouped",
        "name": "pearsonr_grouped",
    }
    assert wire["mainMetric"] == "r2" and wire["targetTypes"] == {"y": "regression"}
    assert wire["datasetArtifactId"] == "org-a/data-one"
    assert wire["nTrainDatapoints"] == 6 and wire["nTestSets"] == 1 and wire["nTestDatapoints"] == {"test": 4}
    assert wire["taskType"] == "single_task" and wire["testSetLabels"] == ["test"]
    assert wire["testSetSizes"] == {"test": 4} and wire["nClasses"] == {}
    assert wire["urn"] == "urn:polaris:benchmark:org-a:bench-one"
    assert list(wire)[-1] == "access" and "dataset" not in wire
    assert len(wire["md5Sum"]) == 32
    # what GET returns: the stored body plus an embedded dataset object; owner as object
    response = {**json_round_trip(wire), "dataset": {"owner": {"slug": "org-a"}, "name": "data-one", "extra": 1}}
    response["owner"] = {"slug": "org-a", "type": "organization"}
    parsed = BenchmarkSpecification.from_wire(response)
    assert isinstance(parsed, SingleTaskBenchmarkSpecification)
    assert isinstance(parsed.dataset, DatasetReference)
    assert parsed.md5sum == wire["md5Sum"]
    assert parsed.to_wire() == wire


def test_benchmark_get_accepts_string_metrics_and_plain_test_list() -> None:
    response = {
        "name": "bench-two",
        "owner": "org-a",
        "targetCols": "y",
        "inputCols": ["smiles"],
        "split": [[0, 1], [2, 3]],
        "metrics": ["r2", {"label": "mean_absolute_error", "kind": "default", "name": "mae"}],
        "mainMetric": "mae",
        "md5Sum": "0123456789abcdef0123456789abcdef",
        "dataset": {"owner": {"slug": "org-a"}, "name": "data_one"},
        "polarisVersion": "0.10.0",
        "unknownKey": True,
    }
    parsed = BenchmarkSpecification.from_wire(response)
    assert parsed.split == ([0, 1], {"test": [2, 3]})
    assert [m.name for m in parsed.metrics] == ["r2", "mae"]
    assert parsed.dataset_artifact_id == "org-a/data-one"
    assert parsed.md5sum == "0123456789abcdef0123456789abcdef"
    assert parsed.target_types == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": ([0, 1], [2, 10])}, "out of range"),
        ({"split": ([0, 1], [1, 2])}, "overlaps"),
        ({"split": ([0, 1], {"test": []})}, "is empty"),
        ({"split": ([0, 0], [2])}, "duplicate"),
        ({"split": ([0, 1], [2, 2])}, "duplicate"),
        ({"split": ([0, 1], [-1])}, "negative"),
        ({"metrics": ["r2", "not_a_metric"]}, "metrics"),
        ({"metrics": ["r2", {"label": "mean_absolute_error", "name": "r2"}]}, "unique"),
        ({"metrics": []}, "at least one metric"),
        ({"main_metric": "spearmanr"}, "main_metric"),
        ({"target_cols": ["y", "y2"]}, "exactly 1 target"),
        ({"target_cols": ["nope"]}, "target_cols"),
        ({"input_cols": ["smiles", "smiles"]}, "duplicate"),
        ({"metrics": [{"label": "r2", "config": {"group_by": "nope"}}], "main_metric": None}, "nope"),
    ],
)
def test_benchmark_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_benchmark(**kwargs)


def test_multitask_needs_two_targets() -> None:
    bench = MultiTaskBenchmarkSpecification(
        dataset=make_dataset(),
        name="multi-bench",
        owner="org-a",
        target_cols=["y", "y2"],
        input_cols="smiles",
        split=([0, 1, 2], {"a": [3, 4], "b": [5, 6, 7]}),
        metrics="mean_absolute_error",
    )
    assert bench.task_type == "multi_task" and bench.main_metric == "mean_absolute_error"
    with pytest.raises(ValidationError, match="at least 2 targets"):
        MultiTaskBenchmarkSpecification(
            dataset=make_dataset(), target_cols=["y"], input_cols="smiles", split=([0], [1]), metrics="r2"
        )
    # multi-test-set, multi-target evaluation needs the full form
    preds = {"a": {"y": [1.0, 2.0], "y2": [0.0, 1.0]}, "b": {"y": [1.0, 2.0, 3.0], "y2": [1.0, 1.0, 2.0]}}
    results = bench.evaluate(preds)
    table = bench.dataset.table  # type: ignore[union-attr]
    expected = skm.mean_absolute_error(table["y2"].iloc[[5, 6, 7]], [1.0, 1.0, 2.0])
    got = results.results.set_index(["Test set", "Target label"]).loc[("b", "y2"), "Score"]
    assert got == pytest.approx(expected)


def test_classification_target_types_and_n_classes() -> None:
    table = small_table()
    table["label"] = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    ds = make_dataset(table=table)
    bench = make_benchmark(
        dataset=ds, target_cols="label", target_types={"label": "classification"}, metrics="accuracy", main_metric=None
    )
    assert bench.n_classes == {"label": 3}
    assert bench.to_wire()["targetTypes"] == {"label": "classification"}
    with pytest.raises(ValidationError, match="target_types"):
        make_benchmark(dataset=ds, target_cols="label", target_types={"label": None}, metrics="accuracy")


def test_train_test_split_subsets() -> None:
    bench = make_benchmark()
    train, test = bench.get_train_test_split()
    assert not isinstance(test, dict)
    assert len(train) == 6 and len(test) == 4
    table = small_table()
    x0, y0 = next(iter(train))
    assert x0 == table["smiles"][0] and y0 == pytest.approx(table["y"][0])
    assert list(test) == list(table["smiles"][6:10])  # targets hidden: inputs only
    np.testing.assert_allclose(train.y, table["y"][:6])
    assert list(test.X) == list(table["smiles"][6:10])
    assert list(test.as_dataframe().columns) == ["smiles"]
    assert list(train.as_dataframe().columns) == ["smiles", "y"]
    with pytest.raises(InvalidArtifactError, match="hidden"):
        _ = test.y
    multi = make_benchmark(split=([0, 1], {"a": [2, 3], "b": [4]}))
    _, tests = multi.get_train_test_split()
    assert isinstance(tests, dict) and {k: len(v) for k, v in tests.items()} == {"a": 2, "b": 1}


def test_evaluate_tiny_regression_gives_sklearn_numbers() -> None:
    bench = make_benchmark(
        metrics=["mean_absolute_error", "r2", "mean_squared_error"], main_metric="mean_absolute_error"
    )
    y_true = small_table()["y"].iloc[6:].to_numpy()
    y_pred = [3.9, 4.1, 4.6, 5.2]
    results = bench.evaluate(y_pred)
    assert isinstance(results, BenchmarkResults)
    assert list(results.results.columns) == ["Test set", "Target label", "Metric", "Score"]
    scores = results.scores()[("test", "y")]
    assert scores["mean_absolute_error"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred))
    assert scores["r2"] == pytest.approx(skm.r2_score(y_true, y_pred))
    assert scores["mean_squared_error"] == pytest.approx(skm.mean_squared_error(y_true, y_pred))
    assert results.benchmark_artifact_id == "org-a/bench-one"
    with pytest.raises(ValueError, match="length 3, expected 4"):
        bench.evaluate([1.0, 2.0, 3.0])


def test_evaluate_needs_loaded_dataset() -> None:
    parsed = BenchmarkSpecification.from_wire(
        {**make_benchmark().to_wire(), "dataset": {"owner": "org-a", "name": "data-one"}}
    )
    with pytest.raises(InvalidArtifactError, match="not loaded"):
        parsed.evaluate([1.0, 2.0, 3.0, 4.0])


# ---------------------------------------------------------------------------------------------------------------------
# Results and competitions
# ---------------------------------------------------------------------------------------------------------------------


def test_results_example_parses_and_round_trips() -> None:
    res = BenchmarkResults.from_wire(RESULTS_EXAMPLE)
    assert list(res.results.columns) == ["Test set", "Target label", "Metric", "Score"]
    assert len(res.results) == 2
    assert res.to_wire() == RESULTS_EXAMPLE
    assert next(iter(res.to_wire())) == "access"
    snake = {
        **RESULTS_EXAMPLE,
        "results": [{"test_set": "test", "target_label": "y", "scores": {"r2": -12.5, "mean_absolute_error": 0.3}}],
    }
    assert BenchmarkResults.from_wire(snake).to_wire() == RESULTS_EXAMPLE


def test_results_nan_becomes_null_and_grouping() -> None:
    table = pd.DataFrame(
        [("b", "y", "r2", math.nan), ("a", "y", "r2", 0.5), ("a", "y", "mae", 0.1), ("a", "x", "r2", 1.0)],
        columns=["Test set", "Target label", "Metric", "Score"],
    )
    res = BenchmarkResults(
        results=table,
        name="my-res",
        owner={"slug": "me-user"},
        benchmark_name="bench_one",
        benchmark_owner="org-a",
        github_url="https://github.com/x/y",
        contributors=["someone"],
    )
    wire = json_round_trip(res.to_wire())
    assert wire["results"] == [
        {"testSet": "a", "targetLabel": "x", "scores": {"r2": 1.0}},
        {"testSet": "a", "targetLabel": "y", "scores": {"r2": 0.5, "mae": 0.1}},
        {"testSet": "b", "targetLabel": "y", "scores": {"r2": None}},
    ]
    assert wire["benchmarkArtifactId"] == "org-a/bench-one"
    assert wire["benchmarkOwner"] == {"slug": "org-a"} and wire["benchmarkName"] == "bench_one"
    assert wire["githubUrl"] == "https://github.com/x/y"
    back = BenchmarkResults.from_wire(wire)
    assert math.isnan(back.scores()[("b", "y")]["r2"])
    assert back.to_wire() == wire
    res.check_uploadable()


def test_results_validation() -> None:
    with pytest.raises(ValidationError, match="empty"):
        BenchmarkResults(results=[])
    with pytest.raises(ValidationError, match="exactly the columns"):
        BenchmarkResults(results=pd.DataFrame({"a": [1]}))
    with pytest.raises(ValidationError, match="paper_url"):
        BenchmarkResults(results=RESULTS_EXAMPLE["results"], paper_url="nope")
    with pytest.raises(ValidationError, match="contributors"):
        BenchmarkResults(results=RESULTS_EXAMPLE["results"], contributors=["x"])
    with pytest.raises(InvalidArtifactError, match="owner"):
        BenchmarkResults(results=RESULTS_EXAMPLE["results"], name="my-res").check_uploadable()


def test_competition_specification() -> None:
    wire = make_benchmark().to_wire()
    response = {
        **wire,
        "owner": "org-a",
        "startTime": "2025-01-01T00:00:00Z",
        "endTime": "2025-02-01T00:00:00Z",
        "dataset": {"owner": {"slug": "org-a"}, "name": "data-one"},
    }
    comp = CompetitionSpecification.from_wire(response)
    assert comp.start_time is not None and comp.start_time.year == 2025
    out = comp.to_wire()
    assert out["urn"] == "urn:polaris:competition:org-a:bench-one"
    assert out["startTime"].startswith("2025-01-01T00:00:00")
    assert CompetitionSpecification.from_wire({**json_round_trip(out), "dataset": response["dataset"]}).to_wire() == out
    with pytest.raises(ValidationError, match="owner"):
        CompetitionSpecification.from_wire({**response, "owner": None})


def test_competition_predictions_wire() -> None:
    preds = CompetitionPredictions.from_wire(PREDICTIONS_EXAMPLE)
    assert preds.to_wire() == PREDICTIONS_EXAMPLE
    built = CompetitionPredictions(
        predictions=np.array([1.0, 2.0, 3.0]),
        target_labels=["y"],
        test_set_labels=["test"],
        test_set_sizes={"test": 3},
        polaris_version="0.10.0",
    )
    assert json_round_trip(built.to_wire()) == PREDICTIONS_EXAMPLE
    with_nan = CompetitionPredictions(
        predictions=[1.0, math.nan], target_labels=["y"], test_set_labels=["test"], test_set_sizes={"test": 2}
    )
    assert json_round_trip(with_nan.to_wire())["predictions"] == {"test": {"y": [1.0, None]}}
    with pytest.raises(ValidationError, match="length 2, expected 3"):
        CompetitionPredictions(
            predictions=[1.0, 2.0], target_labels=["y"], test_set_labels=["test"], test_set_sizes={"test": 3}
        )


def test_competition_results_wire() -> None:
    res = CompetitionResults(
        results=RESULTS_EXAMPLE["results"],
        name="comp-res",
        owner="me-user",
        competition_name="My_Competition",
        competition_owner={"slug": "org-a", "type": "organization"},
    )
    wire = json_round_trip(res.to_wire())
    assert wire["competitionOwner"] == {"slug": "org-a", "type": "organization"}
    assert wire["competitionArtifactId"] == "org-a/my-competition"
    assert wire["competitionName"] == "My_Competition"
    assert wire["urn"] == "urn:polaris:competitionResult:me-user:comp-res"
    assert wire["results"] == RESULTS_EXAMPLE["results"]
    assert CompetitionResults.from_wire(wire).to_wire() == wire

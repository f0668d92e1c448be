"""0.11-0.13 artifacts: Roaring index sets, V2 benchmarks, models, versions, Zarr competitions, model ids on results."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from pydantic import ValidationError
from sklearn import metrics as skm

from polaris import checksum
from polaris.artifacts import (
    BenchmarkResults,
    BenchmarkV2Specification,
    CompetitionPredictions,
    DatasetV1,
    DatasetV2,
    IndexSet,
    Model,
    SplitV2,
    ZarrCompetitionSpecification,
)
from polaris.errors import InvalidArtifactError, PolarisChecksumError

# 0.11-0.13 facts, section 5.5 [observed]
VECTORS = [
    (list(range(30)), "3b3000000100001d00010000001d00", "012c99279975eb976629afdd58f32b51"),
    (list(range(30, 40)), "3b300000010000090001001e000900", "f381cdda1f00d3c26f533738068a3d22"),
    ([1, 70000, 5000000], None, "b271e3924ebdcc88b601fa30ff19f4c8"),
]


def _json(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(data, allow_nan=False))
    return out


# ------------------------------------------------------------------------------------------------------ index sets
@pytest.mark.parametrize(("indices", "hex_bytes", "md5"), VECTORS)
def test_index_set_matches_the_known_vectors(indices: list[int], hex_bytes: str | None, md5: str) -> None:
    s = IndexSet.from_indices(indices)
    data = s.serialize()
    if hex_bytes is not None:
        assert data.hex() == hex_bytes
        assert len(data) == 15
    else:
        assert len(data) == 38
        assert data.hex().startswith("3a30000003000000")  # no run container: cookie 12346, 3 containers
    assert s.md5_checksum == md5 == checksum.index_set_md5(data) == hashlib.md5(data).hexdigest()
    assert s.datapoints == len(indices)
    assert s.to_wire() == {"datapoints": len(indices), "md5Checksum": md5}
    back = IndexSet.deserialize(data, expected_md5=md5)
    assert back.indices == sorted(indices)
    assert back.serialize() == data


def test_index_set_bytes_are_pyroaring_bytes_for_unsorted_and_mixed_containers() -> None:
    from pyroaring import BitMap

    rng = random.Random(7)
    values = rng.sample(range(200_000), 5000) + list(range(300_000, 310_000))
    rng.shuffle(values)
    s = IndexSet(indices=values)
    assert s.serialize() == BitMap(values).serialize()
    assert s.indices == sorted(values)
    assert IndexSet.from_indices(np.asarray(values, dtype=np.int64)).md5_checksum == s.md5_checksum


def test_index_set_refuses_bad_positions_and_corrupt_bytes() -> None:
    for bad in ([-1], [1.5], ["a"], [1, 1], [2**32], np.array([3, 1, 3]), np.array([-2, 5]), range(-1, 3)):
        with pytest.raises((ValueError, ValidationError)):
            IndexSet.from_indices(bad)
    assert IndexSet.from_indices(range(9, -1, -1)) == IndexSet.from_indices(np.arange(10, dtype=np.uint16))
    good = IndexSet.from_indices(range(10))
    with pytest.raises(PolarisChecksumError):
        data = good.serialize()
        IndexSet.deserialize(data[:-2] + bytes([data[-2] ^ 0x01]) + data[-1:], expected_md5=good.md5_checksum)
    with pytest.raises(ValueError, match="Roaring"):
        IndexSet.deserialize(b"not roaring at all")


def test_index_set_from_metadata_then_loaded() -> None:
    full = IndexSet.from_indices(range(30, 40))
    meta = IndexSet.model_validate({"datapoints": 10, "md5Checksum": full.md5_checksum})
    assert not meta.is_loaded and meta.datapoints == 10 and meta.md5_checksum == full.md5_checksum
    with pytest.raises(ValueError, match="load"):
        _ = meta.indices
    loaded = meta.load(full.serialize())
    assert loaded.indices == list(range(30, 40)) and loaded == full
    other = IndexSet.from_indices(range(31, 41))
    with pytest.raises(PolarisChecksumError):
        meta.load(other.serialize())
    wrong_count = IndexSet.model_validate({"datapoints": 11})
    with pytest.raises(ValueError, match="announced"):
        wrong_count.load(full.serialize())
    with pytest.raises(ValidationError):
        IndexSet.model_validate({"datapoints": 3, "md5Checksum": "XYZ"})


def test_split_rules() -> None:
    split = SplitV2(training=range(30), test=range(30, 40))
    assert split.to_wire() == {
        "training": {"datapoints": 30, "md5Checksum": "012c99279975eb976629afdd58f32b51"},
        "test": {"datapoints": 10, "md5Checksum": "f381cdda1f00d3c26f533738068a3d22"},
    }
    assert SplitV2(training=[], test=[3]).training.datapoints == 0  # training may be empty
    assert SplitV2(test=[3]).training.datapoints == 0
    with pytest.raises(ValidationError, match="empty"):
        SplitV2(training=[1], test=[])
    with pytest.raises(ValidationError, match="overlaps"):
        SplitV2(training=[1, 2, 3], test=[3, 4])
    meta = SplitV2.model_validate(split.to_wire())
    assert not meta.is_loaded and meta.test.datapoints == 10


# ------------------------------------------------------------------------------------------------------ V2 benchmark
def _v2_dataset(tmp_path: Path, n: int = 40, name: str = "v2-data") -> DatasetV2:
    path = tmp_path / f"{name}.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    x = np.linspace(0.0, 1.0, n)
    root.create_array("x", shape=(n,), dtype="f8")[:] = x
    root.create_array("y", shape=(n,), dtype="f8")[:] = 2 * x + 1
    root.create_array("cls", shape=(n,), dtype="i8")[:] = np.arange(n) % 2
    return DatasetV2(zarr_root_path=str(path), name=name, owner="org-a", license="MIT")


def _benchmark(dataset: DatasetV2, **kw: Any) -> BenchmarkV2Specification:
    args: dict[str, Any] = {
        "name": "bench-v2",
        "owner": "org-a",
        "dataset": dataset,
        "target_cols": "y",
        "input_cols": ["x"],
        "split": SplitV2(training=range(30), test=range(30, 40)),
        "metrics": ["mean_absolute_error", "r2"],
        "main_metric": "r2",
    }
    args.update(kw)
    return BenchmarkV2Specification(**args)


def test_v2_benchmark_upload_body_shape(tmp_path: Path) -> None:
    bench = _benchmark(_v2_dataset(tmp_path))
    body = _json(bench.to_wire())
    assert list(body)[:3] == ["access", "datasetArtifactId", "split"]
    assert body["datasetArtifactId"] == "org-a/v2-data"
    assert body["split"]["training"] == {"datapoints": 30, "md5Checksum": "012c99279975eb976629afdd58f32b51"}
    assert body["split"]["test"] == {"datapoints": 10, "md5Checksum": "f381cdda1f00d3c26f533738068a3d22"}
    assert body["version"] == 2
    assert body["targetTypes"] == {} and body["nClasses"] == {}
    assert body["nTestSets"] == 1 and body["testSetLabels"] == ["test"]
    assert body["testSetSizes"] == {"test": 10} and body["nTestDatapoints"] == {"test": 10}
    assert body["nTrainDatapoints"] == 30 and body["taskType"] == "single_task"
    assert body["urn"] == "urn:polaris:benchmark:org-a:bench-v2" and body["artifactId"] == "org-a/bench-v2"
    assert "md5Sum" not in body and "artifactVersion" not in body and "parentArtifactId" not in body
    for key in ("name", "description", "tags", "userAttributes", "owner", "polarisVersion", "targetCols"):
        assert key in body
    assert {m["name"] for m in body["metrics"]} == {"mean_absolute_error", "r2"} and body["mainMetric"] == "r2"


def test_v2_benchmark_validation(tmp_path: Path) -> None:
    ds = _v2_dataset(tmp_path)
    with pytest.raises(ValidationError, match="out of range"):
        _benchmark(ds, split=SplitV2(training=range(30), test=[39, 40]))
    with pytest.raises(ValidationError, match="not in the dataset"):
        _benchmark(ds, target_cols=["nope"])
    with pytest.raises(ValidationError, match="overlaps"):
        _benchmark(ds, split=([1, 2], [2, 3]))
    with pytest.raises(ValidationError, match="empty"):
        _benchmark(ds, split=([1, 2], []))
    with pytest.raises(ValidationError, match="one test set"):
        _benchmark(ds, split=([1], {"a": [2], "b": [3]}))
    assert _benchmark(ds, split=([], {"test": [2, 3]})).n_train_datapoints == 0


def test_v2_benchmark_split_and_evaluate_like_v1(tmp_path: Path) -> None:
    ds = _v2_dataset(tmp_path)
    bench = _benchmark(ds)
    train, test = bench.get_train_test_split()
    assert len(train) == 30 and len(test) == 10
    np.testing.assert_allclose(train.X, np.linspace(0, 1, 40)[:30])
    np.testing.assert_allclose(train.y, 2 * np.linspace(0, 1, 40)[:30] + 1)
    x0, y0 = train[0]
    assert x0 == 0.0 and y0 == 1.0
    with pytest.raises(InvalidArtifactError):
        _ = test.y
    assert list(test.as_dataframe().columns) == ["x"]
    y_true = 2 * np.linspace(0, 1, 40)[30:] + 1
    y_pred = y_true + np.linspace(-0.1, 0.1, 10)
    results = bench.evaluate(y_pred)
    assert isinstance(results, BenchmarkResults)
    assert results.benchmark_artifact_id == "org-a/bench-v2"
    scores = results.scores()[("test", "y")]
    assert scores["r2"] == pytest.approx(skm.r2_score(y_true, y_pred))
    assert scores["mean_absolute_error"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred))
    with pytest.raises(ValueError, match="length"):
        bench.evaluate(y_pred[:5])


def test_v2_benchmark_parsed_from_the_hub_needs_its_rows(tmp_path: Path) -> None:
    bench = _benchmark(_v2_dataset(tmp_path))
    answer = _json({**bench.to_wire(), "dataset": {"owner": {"slug": "org-a"}, "name": "v2-data"}})
    parsed = BenchmarkV2Specification.from_wire(answer)
    assert parsed.dataset_artifact_id == "org-a/v2-data" and not parsed.split.is_loaded
    with pytest.raises(InvalidArtifactError):
        parsed.get_train_test_split()
    ds = _v2_dataset(tmp_path)
    split = SplitV2(
        training=parsed.split.training.load(bench.split.training.serialize()),
        test=parsed.split.test.load(bench.split.test.serialize()),
    )
    loaded = BenchmarkV2Specification.from_wire(answer, split=split, dataset=ds)
    assert loaded.split.test.indices == list(range(30, 40))
    assert loaded.evaluate(np.zeros(10)).scores()[("test", "y")]["r2"] < 0


# ---------------------------------------------------------------------------------------------------- models, versions
def test_model_body_and_parse() -> None:
    model = Model(
        name="my_model",
        owner="demo-user",
        description="a model",
        tags=["gnn"],
        readme="# readme",
        code_url="https://github.com/x/y",
        report_url="https://example.org/paper",
        artifact_changelog="first",
    )
    body = _json(model.to_wire())
    assert body["codeUrl"] == "https://github.com/x/y" and body["reportUrl"] == "https://example.org/paper"
    assert body["artifactVersion"] == 1 and body["artifactChangelog"] == "first"
    assert body["urn"] == "urn:polaris:model:demo-user:my-model" and body["artifactId"] == "demo-user/my-model"
    assert body["version"] == 1 and body["slug"] == "my-model" and "access" not in body
    parsed = Model.from_wire({**body, "owner": {"slug": "demo-user"}, "artifactVersion": 3})
    assert parsed.artifact_version == 3 and parsed.code_url == "https://github.com/x/y"
    with pytest.raises(ValidationError, match="code_url"):
        Model(name="my_model", code_url="ftp://nope")
    with pytest.raises(InvalidArtifactError):
        Model(name="my_model").check_uploadable()


def test_versions_are_kept_on_read_and_not_sent_unless_asked() -> None:
    ds = DatasetV1.from_wire(
        {
            "name": "plain_data",
            "owner": {"slug": "org-a"},
            "md5Sum": "cdd180cc38bc6c46667db4b62d18e1c9",
            "artifactVersion": 2,
            "artifactChangelog": "more rows",
            "parentArtifactId": "org-a/plain-data",
        }
    )
    assert ds.artifact_version == 2 and ds.artifact_changelog == "more rows"
    assert ds.parent_artifact_id == "org-a/plain-data"
    plain = DatasetV1(name="plain_data", owner="org-a")
    assert plain.versioning_wire() == {"parentArtifactId": None}
    for key in ("artifactVersion", "artifactChangelog", "parentArtifactId"):
        assert key not in ds.to_wire()
    new = DatasetV1(name="plain_data", owner="org-a", parent_artifact_id="org-a/Plain_Data", artifact_changelog="v2")
    assert new.is_new_version
    assert new.versioning_wire() == {"parentArtifactId": "org-a/plain-data", "artifactChangelog": "v2"}
    with pytest.raises(ValidationError, match="parent_artifact_id"):
        DatasetV1(name="plain_data", parent_artifact_id="no-slash")


def test_results_name_their_model() -> None:
    model = Model(name="my_model", owner="demo-user")
    results = BenchmarkResults(
        results=[{"testSet": "test", "targetLabel": "y", "scores": {"r2": 0.5}}],
        benchmark_artifact_id="org-a/b",
        model_artifact_id=model,
    )
    assert results.to_wire()["modelArtifactId"] == "demo-user/my-model"
    bare = BenchmarkResults(results=[("test", "y", "r2", 0.5)], benchmark_artifact_id="org-a/b")
    assert "modelArtifactId" not in bare.to_wire()
    with pytest.raises(ValidationError):
        BenchmarkResults(results=[("test", "y", "r2", 0.5)], model_artifact_id=Model(name="nameless"))


# ------------------------------------------------------------------------------------------------------ competitions
def test_zarr_competition_is_a_dataset_with_a_task(tmp_path: Path) -> None:
    ds = _v2_dataset(tmp_path, name="comp-data")
    comp = ZarrCompetitionSpecification.from_wire(
        {
            "name": "my-comp",
            "owner": {"slug": "org-a"},
            "targetCols": ["y"],
            "inputCols": ["x"],
            "metrics": ["mean_absolute_error"],
            "mainMetric": "mean_absolute_error",
            "split": [list(range(30)), {"test": list(range(30, 40))}],
            "startTime": "2025-01-01T00:00:00Z",
            "endTime": "2030-01-01T00:00:00Z",
            "artifactVersion": 1,
        },
        dataset=ds,
    )
    assert comp.dataset_artifact_id == "org-a/my-comp"
    train, test = comp.get_train_test_split()
    assert len(train) == 30 and len(test) == 10
    np.testing.assert_allclose(train.y, 2 * np.linspace(0, 1, 40)[:30] + 1)
    with pytest.raises(InvalidArtifactError, match="Hub"):
        comp.evaluate([0.0] * 10)
    with pytest.raises(ValidationError, match="out of range"):
        ZarrCompetitionSpecification(
            name="my-comp",
            owner="org-a",
            dataset=ds,
            target_cols=["y"],
            input_cols=["x"],
            metrics=["r2"],
            split=([0], {"test": [40]}),
        )


def test_competition_prediction_body() -> None:
    preds = CompetitionPredictions(
        predictions=[1.0, 2.0],
        target_labels=["y"],
        test_set_labels=["test"],
        test_set_sizes={"test": 2},
        name="my-preds",
        owner="demo-user",
        paper_url="https://example.org/report",
    )
    body = _json(preds.to_prediction_wire("org-a/my-comp"))
    assert next(iter(body)) == "competitionArtifactId" and body["competitionArtifactId"] == "org-a/my-comp"
    assert body["predictions"] == {"test": {"y": [1.0, 2.0]}}
    assert body["targetLabels"] == ["y"] and body["testSetSizes"] == {"test": 2} and body["testSetLabels"] == ["test"]
    assert body["reportUrl"] == "https://example.org/report" and "paperUrl" not in body
    assert body["urn"] == "urn:polaris:competition-prediction:demo-user:my-preds"
    assert body["owner"] == "demo-user" and body["version"] == 1 and "access" not in body
    assert all(v is not None for v in body.values())

"""polaris-lib's import paths: real modules naming the same objects as polaris.artifacts, clear errors for what is
deliberately left out, the upload argument orders of both generations, and the polaris-lib coexistence check."""

from __future__ import annotations

import base64
import hashlib
import importlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import polaris
import polaris.artifacts as artifacts
from polaris import errors, types
from polaris._coexistence import FIX, foreign_files, warn_if_mixed
from polaris.artifacts._hub_calls import sort_upload_args
from polaris.utils._not_provided import NotProvidedError

SAME_OBJECTS = {
    "polaris.dataset": {
        "Dataset": artifacts.DatasetV1,
        "DatasetV1": artifacts.DatasetV1,
        "DatasetV2": artifacts.DatasetV2,
        "ColumnAnnotation": artifacts.ColumnAnnotation,
        "Modality": artifacts.Modality,
        "CompetitionDataset": artifacts.CompetitionDataset,
        "Subset": artifacts.Subset,
    },
    "polaris.benchmark": {
        "BenchmarkSpecification": artifacts.BenchmarkSpecification,
        "SingleTaskBenchmarkSpecification": artifacts.SingleTaskBenchmarkSpecification,
        "MultiTaskBenchmarkSpecification": artifacts.MultiTaskBenchmarkSpecification,
        "BenchmarkV2Specification": artifacts.BenchmarkV2Specification,
        "SingleTaskBenchmarkV2Specification": artifacts.BenchmarkV2Specification,
        "MultiTaskBenchmarkV2Specification": artifacts.BenchmarkV2Specification,
        "SplitV2": artifacts.SplitV2,
        "IndexSet": artifacts.IndexSet,
    },
    "polaris.benchmark._split_v2": {"SplitV2": artifacts.SplitV2, "IndexSet": artifacts.IndexSet},
    "polaris.benchmark._benchmark_v2": {"BenchmarkV2Specification": artifacts.BenchmarkV2Specification},
    "polaris.competition": {"CompetitionSpecification": artifacts.CompetitionSpecification},
    "polaris.model": {"Model": artifacts.Model},
    "polaris.evaluate": {
        "BenchmarkResults": artifacts.BenchmarkResults,
        "BenchmarkResultsV2": artifacts.BenchmarkResults,
        "CompetitionResults": artifacts.CompetitionResults,
        "CompetitionPredictions": artifacts.CompetitionPredictions,
    },
    "polaris.utils.types": {"HubOwner": types.HubOwner, "AccessType": types.AccessType},
}


@pytest.mark.parametrize(("module", "names"), list(SAME_OBJECTS.items()), ids=list(SAME_OBJECTS))
def test_compat_names_are_the_artifacts_objects(module: str, names: dict[str, object]) -> None:
    mod = importlib.import_module(module)
    source = Path(str(mod.__file__)).read_text()
    assert "import *" not in source  # a real module, not a star-import trampoline
    for name, expected in names.items():
        assert getattr(mod, name) is expected, (module, name)


def test_utils_types_and_errors_name_this_packages_types() -> None:
    from polaris import types
    from polaris.utils import errors as compat_errors
    from polaris.utils import types as compat_types

    assert compat_types.HubOwner is types.HubOwner and compat_types.AccessType is types.AccessType
    assert compat_types.TargetType is types.TargetType and compat_types.ZarrConflictResolution is not None
    assert compat_errors.InvalidDatasetError is errors.InvalidArtifactError
    assert compat_errors.PolarisHubError is errors.PolarisHubError
    with pytest.raises(compat_errors.InvalidBenchmarkError):
        artifacts.SingleTaskBenchmarkSpecification(
            target_cols=["y"], input_cols=["x"], split=([0], [1]), metrics=["r2"]
        ).get_train_test_split()


@pytest.mark.parametrize(
    ("module", "name", "advice"),
    [
        ("polaris.dataset", "DatasetFactory", "pandas"),
        ("polaris.dataset", "create_dataset_from_file", "DatasetV1(table="),
        ("polaris.dataset", "KnownContentType", "content_type"),
        ("polaris.evaluate", "evaluate_benchmark", "benchmark.evaluate"),
        ("polaris.evaluate", "GroupedMetric", "GroupedMetricConfig"),
    ],
)
def test_names_left_out_say_what_to_use(module: str, name: str, advice: str) -> None:
    with pytest.raises(ImportError) as caught:
        exec(f"from {module} import {name}", {})
    assert isinstance(caught.value, NotProvidedError)
    assert advice in str(caught.value) and name in str(caught.value)


def test_unknown_names_are_plain_attribute_errors() -> None:
    import polaris.dataset

    assert not hasattr(polaris.dataset, "no_such_name")
    with pytest.raises(ImportError, match="cannot import name"):
        exec("from polaris.dataset import no_such_name", {})


def test_import_polaris_loads_no_compat_module() -> None:
    code = "import sys, polaris; print(sorted(m for m in sys.modules if m.startswith('polaris.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = eval(out.stdout)
    assert not {"polaris.dataset", "polaris.benchmark", "polaris.artifacts", "polaris.evaluate"} & set(loaded)
    assert "polaris._coexistence" in loaded  # the environment check runs at import
    assert out.stderr == ""  # and says nothing in a clean environment


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (("private", None), (None, "private", None)),  # 0.10 dataset order: access, owner
        (("private", "me"), (None, "private", "me")),
        (("me", None), (None, "private", "me")),  # 0.12: owner first
        (("public", types.HubOwner(slug="team")), (None, "public", types.HubOwner(slug="team"))),
    ],
)
def test_upload_arguments_of_both_generations(given: tuple[object, ...], expected: tuple[object, ...]) -> None:
    assert sort_upload_args(None, *given) == expected


def test_upload_arguments_refuse_what_they_cannot_place() -> None:
    with pytest.raises(TypeError, match="by keyword"):
        sort_upload_args(None, 3, None)
    with pytest.raises(TypeError, match="two values"):
        sort_upload_args(None, "alice", "bob")


def test_mixed_installation_is_detected_and_explained(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert foreign_files() == []  # this checkout is clean
    (tmp_path / "loader").mkdir()
    (tmp_path / "loader" / "__init__.py").write_text("")
    (tmp_path / "_version.py").write_text("__version__ = '0.10.0'")
    assert foreign_files(tmp_path) == ["_version.py", "loader/__init__.py"]
    with caplog.at_level(logging.WARNING, logger="polaris"):
        assert warn_if_mixed(tmp_path)
    assert (
        "pip uninstall" in caplog.text and "polaris-hub-client's polaris/__init__.py is the active one" in caplog.text
    )


def _fake_polaris_lib(site: Path, init_hash: str) -> None:
    info = site / "polaris_lib-0.10.4.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: polaris-lib\nVersion: 0.10.4\n")
    (info / "RECORD").write_text(f"polaris/__init__.py,sha256={init_hash},100\npolaris/_version.py,,\n")


def _version_output(site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = "from polaris.cli import main; main(['--version'])"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("ours_active", [True, False], ids=["ours-active", "polaris-lib-active"])
def test_version_says_which_distribution_is_active(tmp_path: Path, ours_active: bool) -> None:
    init = Path(polaris.__file__)
    ours = base64.urlsafe_b64encode(hashlib.sha256(init.read_bytes()).digest()).rstrip(b"=").decode()
    _fake_polaris_lib(tmp_path, "not-our-hash" if ours_active else ours)
    out = _version_output(tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("polaris-hub-client ")
    assert "polaris-lib 0.10.4 is also installed" in out.stderr
    expected = "polaris-hub-client" if ours_active else "polaris-lib"
    assert f"Active polaris/__init__.py: {expected} (" in out.stderr
    assert FIX in out.stderr


def test_version_is_quiet_without_polaris_lib(tmp_path: Path) -> None:
    out = _version_output(tmp_path)
    assert out.returncode == 0 and out.stderr == "", out.stderr


def test_metric_enum_members_of_010_are_metrics() -> None:
    from polaris.evaluate import Metric

    assert Metric.mean_absolute_error == Metric("mean_absolute_error")
    assert Metric.roc_auc.name == "roc_auc"
    with pytest.raises(AttributeError):
        _ = Metric.not_a_metric


def _small_dataset() -> artifacts.DatasetV1:
    import pandas as pd

    table = pd.DataFrame({"smiles": ["CCO", "CCN", "CCC", "CO"], "y": [1.0, 2.0, 3.0, 4.0]})
    return artifacts.DatasetV1(table=table, name="compat-small", owner="demo-user", license="MIT")


def test_get_data_refuses_adapters_and_says_why() -> None:
    dataset = _small_dataset()
    assert dataset.get_data(0, "smiles") == "CCO"
    with pytest.raises(errors.InvalidArtifactError, match="adapters") as caught:
        dataset.get_data(0, "smiles", adapters={"smiles": "SMILES_TO_MOL"})
    assert "MolFromSmiles" in str(caught.value)


def test_dataset_json_round_trip_and_if_exists(tmp_path: Path) -> None:
    dataset = _small_dataset()
    path = dataset.to_json(tmp_path)
    assert Path(path).name == "dataset.json" and (Path(path).parent / "table.parquet").is_file()
    again = artifacts.DatasetV1.from_json(path)
    assert again.md5sum == dataset.md5sum and again.table.equals(dataset.table)
    with pytest.raises(errors.ArtifactExistsError):
        dataset.to_json(tmp_path, if_exists="raise")
    assert dataset.size() == (4, 2) and len(dataset) == 4 and bool(artifacts.DatasetV1()) is True


def test_subset_shapes_of_polaris_lib() -> None:
    dataset = _small_dataset()
    bench = artifacts.SingleTaskBenchmarkSpecification(
        dataset=dataset, target_cols="y", input_cols="smiles", split=([0, 1], [2, 3]), metrics=["r2"]
    )
    train, test = bench.get_train_test_split(featurization_fn=len)
    assert list(train.inputs) == [3, 3] and list(train.targets) == [1.0, 2.0]
    assert train[1] == (3, 2.0) and list(test) == [3, 2]
    with pytest.raises(TypeError, match="featurization_fn"):
        bench.get_train_test_split(featurization_fn="len")
    with pytest.raises(ValueError, match="data_type"):
        train.as_array("z")


def test_results_and_predictions_accept_both_link_names() -> None:
    results = artifacts.BenchmarkResults(
        results=[("test", "y", "r2", 0.5)], code_url="https://example.org/c", report_url="https://example.org/r"
    )
    assert (results.github_url, results.paper_url) == ("https://example.org/c", "https://example.org/r")
    with pytest.raises(ValueError, match="code_url"):
        results.code_url = "not a url"
    preds = artifacts.CompetitionPredictions(
        predictions=[1.0, 2.0],
        report_url="https://example.org/r",
        target_labels=["y"],
        test_set_labels=["test"],
        test_set_sizes={"test": 2},
    )
    assert preds.paper_url == preds.report_url == "https://example.org/r"


def test_split_v2_spellings() -> None:
    split = artifacts.SplitV2(training=[0, 1], test_sets={"test": [2, 3]})
    assert split.test_sets["test"].datapoints == 2 and split.n_test_sets == 1
    with pytest.raises(ValueError, match="exactly one test set"):
        artifacts.SplitV2(training=[0], test_sets={"a": [1], "b": [2]})

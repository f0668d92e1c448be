"""Metrics and target types: checked when a benchmark is built (client) and stored (local Hub), applied by type."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from polaris.artifacts import BenchmarkSpecification, DatasetV1
from polaris.errors import InvalidPredictionsError, InvalidRequestError
from polaris.hub.client import PolarisHubClient

pytestmark = pytest.mark.timeout(120)

N = 40


def _dataset() -> DatasetV1:
    rng = np.random.default_rng(3)
    table = pd.DataFrame(
        {
            "smiles": [f"C{'C' * (i % 7)}O{i}" for i in range(N)],
            "solubility": rng.normal(size=N),
            "active": (np.arange(N) % 2).astype(int),
        }
    )
    return DatasetV1(name=f"mixed-{uuid.uuid4().hex[:8]}", owner="demo-user", table=table, license="MIT")


def _benchmark(dataset: DatasetV1, metrics: list[str], types: dict[str, str], **extra: Any) -> BenchmarkSpecification:
    return BenchmarkSpecification.from_wire(
        {
            "name": f"mixed-bench-{uuid.uuid4().hex[:8]}",
            "owner": "demo-user",
            "targetCols": ["solubility", "active"],
            "inputCols": ["smiles"],
            "split": [list(range(30)), {"test": list(range(30, N))}],
            "metrics": metrics,
            "mainMetric": metrics[0],
            "targetTypes": types,
            **extra,
        },
        dataset=dataset,
    )


MIXED = {"solubility": "regression", "active": "classification"}


def test_mixed_regression_and_classification_multi_task_evaluate() -> None:
    dataset = _dataset()
    bench = _benchmark(dataset, ["mean_absolute_error", "accuracy", "roc_auc"], MIXED)
    _, test = bench.get_train_test_split()
    assert not isinstance(test, dict)
    truth = dataset.table.iloc[30:]  # type: ignore[union-attr]
    y_pred = {"solubility": truth["solubility"].to_numpy() + 0.5, "active": truth["active"].to_numpy()}
    y_prob = {"active": np.where(truth["active"].to_numpy() == 1, 0.9, 0.1), "solubility": np.zeros(10)}
    results = bench.evaluate(y_pred=y_pred, y_prob=y_prob)
    scores = results.scores()
    assert set(scores[("test", "solubility")]) == {"mean_absolute_error"}
    assert set(scores[("test", "active")]) == {"accuracy", "roc_auc"}
    assert scores[("test", "solubility")]["mean_absolute_error"] == pytest.approx(0.5)
    assert scores[("test", "active")]["accuracy"] == 1.0 and scores[("test", "active")]["roc_auc"] == 1.0


def test_a_metric_that_fits_no_target_is_refused_when_the_benchmark_is_built() -> None:
    with pytest.raises(ValidationError, match=r"roc_auc.*classification.*regression"):
        _benchmark(_dataset(), ["mean_absolute_error", "roc_auc"], {"solubility": "regression", "active": "regression"})


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"solubility": [np.nan] + [0.0] * 9}, "NaN"),
        ({"solubility": ["a"] * 10}, "must be numbers"),
        ({"active": [0, 1] * 4 + [None, 1]}, "active"),
    ],
)
def test_bad_predictions_give_a_typed_error_naming_target_and_test_set(bad: dict[str, Any], expected: str) -> None:
    dataset = _dataset()
    bench = _benchmark(dataset, ["mean_absolute_error", "accuracy"], MIXED)
    truth = dataset.table.iloc[30:]  # type: ignore[union-attr]
    y_pred: dict[str, Any] = {"solubility": truth["solubility"].to_numpy(), "active": truth["active"].to_numpy()}
    y_pred.update(bad)
    with pytest.raises(InvalidPredictionsError) as err:
        bench.evaluate(y_pred=y_pred)
    (target,) = bad
    assert err.value.target == target and err.value.test_set == "test"
    assert expected in str(err.value) and repr(target) in str(err.value) and "'test'" in str(err.value)


def test_probabilities_outside_zero_one_are_refused() -> None:
    dataset = _dataset()
    bench = _benchmark(dataset, ["roc_auc", "mean_absolute_error"], MIXED)
    with pytest.raises(InvalidPredictionsError, match=r"\[0, 1\]"):
        bench.evaluate(
            y_pred={"solubility": np.zeros(10), "active": np.zeros(10)},
            y_prob={"active": np.arange(10.0), "solubility": np.zeros(10)},
        )


# ---------------------------------------------------------------------------------------------- the local Hub
@pytest.fixture
def client(local_hub: Any) -> Iterator[PolarisHubClient]:
    with PolarisHubClient(
        local_hub.settings(username="demo-user", password=local_hub.users["demo-user"]), cache_auth_token=False
    ) as c:
        c.show_progress = False
        c.login()
        yield c


def test_local_hub_refuses_to_store_a_metric_that_fits_no_target(client: PolarisHubClient) -> None:
    dataset = _dataset()
    client.upload_dataset(dataset)
    bench = _benchmark(dataset, ["mean_absolute_error", "accuracy"], MIXED)
    body = bench.to_wire()
    body["metrics"] = [{"label": "mean_absolute_error"}, {"label": "roc_auc"}]
    body["targetTypes"] = {"solubility": "regression", "active": "regression"}
    assert bench.name is not None
    # the client refuses this when building a benchmark; send it as another client would
    with pytest.raises(InvalidRequestError) as err:
        client._wire.benchmarks.put_benchmark_v1("demo-user", bench.name, body)
    assert "roc_auc" in str(err.value)
    stored = client.upload_benchmark(bench)  # the fitting version is stored
    assert stored["targetTypes"] == MIXED
    back = client.get_benchmark("demo-user", bench.name)
    truth = dataset.table.iloc[30:]  # type: ignore[union-attr]
    results = back.evaluate(y_pred={"solubility": truth["solubility"].to_numpy(), "active": truth["active"].to_numpy()})
    assert results.scores()[("test", "solubility")] == {"mean_absolute_error": 0.0}
    assert results.scores()[("test", "active")] == {"accuracy": 1.0}

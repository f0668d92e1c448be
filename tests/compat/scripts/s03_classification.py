"""Classification benchmarks as the recipes build them: binary targets, label and probability predictions
(``evaluate(y_pred, y_prob)``), single- and multi-task, on a dataset whose fingerprints live in a Zarr archive
(pointer columns)."""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import zarr

import polaris as po
from polaris.benchmark import MultiTaskBenchmarkSpecification, SingleTaskBenchmarkSpecification
from polaris.dataset import ColumnAnnotation, Dataset

rng = np.random.default_rng(1)
n = 80
fps = rng.integers(0, 2, size=(n, 32)).astype(np.uint8)
root_path = Path(tempfile.mkdtemp()) / "fingerprints.zarr"
root = zarr.open_group(str(root_path), mode="w")
root.create_array("ecfp", shape=fps.shape, dtype=fps.dtype, chunks=(16, 32))[:] = fps

signal = fps[:, :4].sum(axis=1)
df = pd.DataFrame(
    {
        "fingerprint": [f"ecfp#{i}" for i in range(n)],
        "CLASS_HERG": (signal >= 2).astype(int),
        "CLASS_CYP": (fps[:, 5] == 1).astype(int),
    }
)
dataset = Dataset(
    table=df,
    name="compat-tox-classes",
    annotations={"fingerprint": ColumnAnnotation(is_pointer=True, description="ECFP bits")},
    zarr_root_path=str(root_path),
    owner="demo-user",
    license="CC-BY-4.0",
)
assert np.array_equal(dataset.get_data(3, "fingerprint"), fps[3])

split = (list(range(60)), list(range(60, n)))
single = SingleTaskBenchmarkSpecification(
    name="compat-herg",
    dataset=dataset,
    target_cols=["CLASS_HERG"],
    input_cols=["fingerprint"],
    split=split,
    metrics=["accuracy", "f1", "roc_auc", "pr_auc", "mcc"],
    main_metric="roc_auc",
    target_types={"CLASS_HERG": "classification"},
    owner="demo-user",
)
multi = MultiTaskBenchmarkSpecification(
    name="compat-tox-multi",
    dataset=dataset,
    target_cols=["CLASS_HERG", "CLASS_CYP"],
    input_cols=["fingerprint"],
    split=split,
    metrics=["accuracy", "roc_auc"],
    main_metric="accuracy",
    target_types={"CLASS_HERG": "classification", "CLASS_CYP": "classification"},
    owner="demo-user",
)

train, test = single.get_train_test_split()
X = train.inputs
assert X.shape == (60, 32) and np.array_equal(X[0], fps[0])
w = np.linalg.lstsq(np.c_[X, np.ones(60)], train.targets, rcond=None)[0]
prob = np.clip(np.c_[test.inputs, np.ones(len(test))] @ w, 0, 1)
results = single.evaluate(y_pred=(prob > 0.5).astype(int), y_prob=prob)
scores = dict(zip(results.results["Metric"], results.results["Score"], strict=True))
assert set(scores) == {"accuracy", "f1", "roc_auc", "pr_auc", "mcc"}, scores
assert 0.5 < scores["roc_auc"] <= 1.0, scores

try:
    single.evaluate(y_pred=(prob > 0.5).astype(int))  # roc_auc needs probabilities
except ValueError as exc:
    assert "y_prob" in str(exc), exc
else:
    raise AssertionError("roc_auc without y_prob should be refused")

train, test = multi.get_train_test_split()
probs = {t: np.full(len(test), train.targets[t].mean()) for t in multi.target_cols}
labels = {t: (p > 0.5).astype(int) for t, p in probs.items()}
multi_results = multi.evaluate(labels, probs)
assert len(multi_results.results) == 2 * 2

dataset.upload_to_hub(owner="demo-user")
single.upload_to_hub(owner="demo-user")
remote = po.load_benchmark("demo-user/compat-herg")
train, test = remote.get_train_test_split()
assert np.array_equal(train.inputs, fps[:60])  # the pointer column, read from the uploaded Zarr archive
again = remote.evaluate(y_pred=(prob > 0.5).astype(int), y_prob=prob)
assert np.allclose(again.results["Score"], results.results["Score"])
results.name = "compat-herg-linear"
results.code_url = "https://github.com/example/herg"  # polaris-lib 0.12 name of github_url
assert results.github_url == "https://github.com/example/herg"
results.upload_to_hub(owner="demo-user", access="public")
print("OK s03_classification")

"""The Basics tutorial (polaris-lib 0.10 docs/tutorials/basics): load from the Hub, split, featurize, train,
evaluate, describe and upload the results. Runs unchanged against polaris-hub-client."""

import numpy as np

import polaris as po
from polaris.hub.client import PolarisHubClient

with PolarisHubClient() as client:
    client.login()

dataset = po.load_dataset("polaris-demo/freesolv")
n_rows, n_cols = dataset.size()
assert n_rows == len(dataset.table) and n_cols == len(dataset.columns), dataset.size()
assert isinstance(dataset.get_data(row=0, col="smiles"), str)
assert dataset.get_data(0, "expt") == dataset.table["expt"].iloc[0]

benchmark = po.load_benchmark("polaris-demo/freesolv-hydration-free-energy")
assert benchmark.task_type == "single_task"
assert benchmark.main_metric in [m.name for m in benchmark.metrics]


def featurize(smiles: str) -> np.ndarray:
    return np.array([len(smiles), smiles.count("C"), smiles.count("O"), smiles.count("N"), smiles.count("=")], float)


train, test = benchmark.get_train_test_split(featurization_fn=featurize)
assert len(train) == benchmark.n_train_datapoints and len(test) == benchmark.n_test_datapoints["test"]

# the three ways the tutorials read a subset
x0, y0 = train[0]
assert x0.shape == (5,) and isinstance(float(y0), float)
rows = [(x, y) for x, y in train]
assert len(rows) == len(train)
X, y = train.inputs, train.targets
assert X.shape == (len(train), 5) and y.shape == (len(train),)
assert np.allclose(X[0], x0)
frame = train.as_dataframe()
assert list(frame.columns) == benchmark.input_cols + benchmark.target_cols and len(frame) == len(train)
assert all(x.shape == (5,) for x in test)  # test sets yield inputs only
try:
    _ = test.targets
except Exception as exc:  # the test targets are hidden
    assert "hidden" in str(exc)
else:
    raise AssertionError("test targets should be hidden")

# "train a model": least squares on the features
A = np.c_[X, np.ones(len(X))]
coef, *_ = np.linalg.lstsq(A, y, rcond=None)
y_pred = np.c_[test.inputs, np.ones(len(test))] @ coef

results = benchmark.evaluate(y_pred)
scores = results.results
assert set(scores["Metric"]) == {m.name for m in benchmark.metrics}
assert np.isfinite(scores["Score"].astype(float)).all()

results.name = "my-first-results"
results.description = "Least squares on SMILES character counts"
results.tags = ["baseline", "tutorial"]
results.user_attributes = {"framework": "numpy"}
results.github_url = "https://github.com/example/polaris-baseline"
results.paper_url = "https://example.org/report"
results.contributors = ["demo-user"]

uploaded = results.upload_to_hub(owner="demo-user", access="private")
assert uploaded.hub_url and results.hub_url == uploaded.hub_url, uploaded.hub_url
assert uploaded.benchmark_artifact_id == "polaris-demo/freesolv-hydration-free-energy"
print("OK s01_basics")

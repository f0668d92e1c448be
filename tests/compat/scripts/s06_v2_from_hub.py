"""A V2 benchmark loaded from the Hub and read the way 0.12-0.13 code reads it (``split.training.indices``,
``split.test_items()``, ``test["test"]``), evaluated and reported with the 0.12 link names."""

import numpy as np

import polaris as po
from polaris.evaluate import BenchmarkResults

benchmark = po.load_benchmark("polaris-demo/freesolv-zarr-expt")
split = benchmark.split
train_idx = list(split.training.indices)
test_idx = list(split.test.indices)
assert len(train_idx) == split.training.datapoints == benchmark.n_train_datapoints
assert not set(train_idx) & set(test_idx)
assert {label: len(s) for label, s in split.test_sets.items()} == benchmark.n_test_datapoints
for label, index_set in split.test_items():
    assert label == "test" and index_set.datapoints == len(test_idx)

train, test_sets = benchmark.get_train_test_split()
test = test_sets["test"]  # 0.13: test sets come as {label: subset}
assert len(test) == len(test_idx)
assert [label for label, _ in test_sets.items()] == ["test"]
assert len(test_sets) == len(test)  # 0.11: the subset itself

X, y = train.inputs, train.targets
slope, intercept = np.polyfit(X, y, 1)
y_pred = {label: slope * subset.inputs + intercept for label, subset in test_sets.items()}
results = benchmark.evaluate(y_pred=y_pred)
assert isinstance(results, BenchmarkResults)
assert set(results.results["Metric"]) == {m.name for m in benchmark.metrics}

results.name = "compat-linear-v2"
results.description = "np.polyfit on calc"
results.code_url = "https://github.com/example/v2"  # 0.12 names
results.report_url = "https://example.org/v2-report"
assert (results.github_url, results.paper_url) == ("https://github.com/example/v2", "https://example.org/v2-report")
uploaded = results.upload_to_hub(owner="demo-user", access="private")
assert uploaded.hub_url

try:
    _ = benchmark.submit_predictions
except AttributeError as exc:  # deliberately not provided: the message says what to do
    assert "benchmark.evaluate" in str(exc) and "upload_to_hub" in str(exc), exc
else:
    raise AssertionError("submit_predictions on a V2 benchmark should say what to use")
print("OK s06_v2_from_hub")

"""polaris-recipes style, written against 0.10: scikit-learn on a multi-task benchmark, BenchmarkPredictions, and
the 0.10 positional ``upload_to_hub(settings, cache_auth_token, access, owner)`` calls with explicit settings."""

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

import polaris as po
from polaris.benchmark import MultiTaskBenchmarkSpecification
from polaris.dataset import Dataset, Subset
from polaris.evaluate import BenchmarkPredictions
from polaris.hub.settings import PolarisHubSettings
from polaris.utils.types import HubOwner

settings = PolarisHubSettings()  # from the POLARIS_* environment, as a notebook's .env would give it

rng = np.random.default_rng(3)
n = 50
features = rng.normal(size=(n, 3))
df = pd.DataFrame(
    {
        "f0": features[:, 0],
        "f1": features[:, 1],
        "f2": features[:, 2],
        "A": features @ [1.0, 2.0, 0.5],
        "B": features @ [-1.0, 0.3, 1.5],
    }
)
dataset = Dataset(table=df, name="compat-recipes-ds", owner=HubOwner(slug="demo-user"), license="MIT")
benchmark = MultiTaskBenchmarkSpecification(
    name="compat-recipes-bench",
    dataset=dataset,
    target_cols=["A", "B"],
    input_cols=["f0", "f1", "f2"],
    split=(list(range(35)), list(range(35, n))),
    metrics=["mean_absolute_error", "r2"],
    main_metric="r2",
    owner="demo-user",
)

train, test = benchmark.get_train_test_split()
assert isinstance(train, Subset) and train.is_multi_input and train.is_multi_task
X_train = np.stack([train.inputs[c] for c in benchmark.input_cols], axis=1)  # {column: array} for several inputs
X_test = np.stack([test.inputs[c] for c in benchmark.input_cols], axis=1)
x_arr, y_arr = train.as_array("xy")
assert set(x_arr) == {"f0", "f1", "f2"} and set(y_arr) == {"A", "B"}
only_a = train.filter_targets("A")
assert np.allclose(only_a.targets, df["A"].to_numpy()[:35])
assert len(test[0]) == 3 and set(test[0]) == {"f0", "f1", "f2"}  # a test row: inputs only

y_pred = {t: Ridge(alpha=1e-6).fit(X_train, train.targets[t]).predict(X_test) for t in benchmark.target_cols}
predictions = BenchmarkPredictions(
    predictions=y_pred,
    target_labels=benchmark.target_cols,
    test_set_labels=benchmark.test_set_labels,
    test_set_sizes=benchmark.test_set_sizes,
)
assert len(predictions) == n - 35
results = benchmark.evaluate(predictions)
r2 = results.results[results.results["Metric"] == "r2"]["Score"]
assert (r2 > 0.99).all(), results.results

# 0.10 positional orders
dataset.upload_to_hub("private", "demo-user")
benchmark.upload_to_hub(settings, True, "private", "demo-user")
results.name = "compat-ridge"
results.upload_to_hub(settings, True, "public", HubOwner(slug="demo-user"))
assert results.hub_url

with po.hub.client.PolarisHubClient(settings=settings) as client:
    assert "demo-user/compat-recipes-bench" in client.list_benchmarks(limit=1000)
print("OK s08_recipes_010_calls")

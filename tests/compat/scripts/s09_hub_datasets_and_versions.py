"""Hub datasets as notebooks read them (a V2 dataset's archive, a V1 table saved locally) and a benchmark uploaded
for an organization, then as a new version of itself (0.12 ``parent_artifact_id``)."""

import tempfile

import numpy as np

import polaris as po
from polaris.benchmark import SingleTaskBenchmarkSpecification
from polaris.dataset import Dataset, DatasetV2
from polaris.utils.types import HubOwner

v2 = po.load_dataset("polaris-demo/freesolv-zarr")
assert isinstance(v2, DatasetV2)
assert set(v2.columns) >= {"calc", "expt"} and len(v2) == v2.size()[0] > 0
calc = v2.zarr_root["calc"][:]
assert calc.shape == (len(v2),) and v2.get_data(0, "calc") == calc[0]
again = DatasetV2.from_json(v2.to_json(tempfile.mkdtemp()))
assert np.array_equal(again.zarr_root["expt"][:], v2.zarr_root["expt"][:])

v1 = po.load_dataset("polaris-demo/freesolv")
local = po.load_dataset(v1.to_json(tempfile.mkdtemp()))
assert isinstance(local, Dataset) and local.md5sum == v1.md5sum and local.owner == HubOwner(slug="polaris-demo")

n = len(v1)
first = SingleTaskBenchmarkSpecification(
    name="compat-org-bench",
    dataset=v1,
    target_cols="expt",
    input_cols="calc",
    split=(list(range(0, n - 100)), list(range(n - 100, n))),
    metrics=["mean_absolute_error"],
    owner=HubOwner(slug="polaris-demo"),
)
first.upload_to_hub(owner="polaris-demo", access="public")
second = SingleTaskBenchmarkSpecification(
    name="compat-org-bench-2",
    dataset=v1,
    target_cols="expt",
    input_cols="calc",
    split=(list(range(0, n - 50)), list(range(n - 50, n))),
    metrics=["mean_absolute_error", "r2"],
    main_metric="r2",
    owner=HubOwner(slug="polaris-demo"),
    artifact_changelog="a smaller test set and r2",
)
answer = second.upload_to_hub(owner="polaris-demo", parent_artifact_id="polaris-demo/compat-org-bench")
newer = po.load_benchmark(f"polaris-demo/{answer['slug']}")
assert newer.artifact_version == 2 and newer.n_test_datapoints == {"test": 50}
train, test = newer.get_train_test_split()
results = newer.evaluate(y_pred=test.inputs)  # calc as the prediction of expt
assert results.results.set_index("Metric").loc["r2", "Score"] > 0.5
results.name = "compat-calc-as-expt"
assert results.upload_to_hub(owner="demo-user").hub_url
print("OK s09_hub_datasets_and_versions")

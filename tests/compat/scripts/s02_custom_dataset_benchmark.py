"""The "Custom datasets and benchmarks" tutorial (0.10): a dataset with column annotations, single- and multi-task
benchmarks (one and several test sets), saved as JSON and read back, uploaded, loaded from the Hub, evaluated."""

import tempfile

import numpy as np
import pandas as pd

import polaris as po
from polaris.benchmark import MultiTaskBenchmarkSpecification, SingleTaskBenchmarkSpecification
from polaris.dataset import ColumnAnnotation, Dataset
from polaris.utils.types import HubOwner

rng = np.random.default_rng(0)
n = 60
df = pd.DataFrame(
    {
        "smiles": [f"C{'C' * (i % 7)}O{'N' * (i % 3)}" for i in range(n)],
        "LOG_SOLUBILITY": rng.normal(size=n),
        "LOG_PERMEABILITY": rng.normal(size=n),
    }
)
annotations = {
    "smiles": ColumnAnnotation(description="Molecule SMILES", modality="molecule"),
    "LOG_SOLUBILITY": ColumnAnnotation(description="log10 solubility", user_attributes={"unit": "log10(uM)"}),
    "LOG_PERMEABILITY": ColumnAnnotation(description="log10 permeability", user_attributes={"unit": "log10(cm/s)"}),
}
owner = HubOwner(slug="demo-user")
dataset = Dataset(
    table=df,
    name="compat-adme-fang-v1",
    description="A few ADME endpoints",
    source="https://github.com/molecularinformatics/Computational-ADME",
    annotations=annotations,
    tags=["DMPK", "ADME"],
    user_attributes={"year": "2023"},
    owner=owner,
    license="CC-BY-4.0",
    curation_reference="https://doi.org/10.1021/acs.jcim.3c00160",
)
assert dataset.annotations["smiles"].modality.name == "MOLECULE"
assert dataset.size() == (n, 3) and dataset.n_rows == n

# JSON round trip, as the tutorial saves it before uploading
save_dir = tempfile.mkdtemp()
path = dataset.to_json(save_dir)
again = Dataset.from_json(path)
assert again.md5sum == dataset.md5sum and again.name == dataset.name and again.owner == owner
assert po.load_dataset(path).md5sum == dataset.md5sum

train_idx = list(range(40))
single = SingleTaskBenchmarkSpecification(
    name="compat-adme-sol",
    dataset=dataset,
    target_cols="LOG_SOLUBILITY",
    input_cols="smiles",
    split=(train_idx, list(range(40, n))),
    metrics=["mean_absolute_error", "mean_squared_error", "r2"],
    main_metric="mean_absolute_error",
    description="Solubility from SMILES",
    owner=owner,
)
multi = MultiTaskBenchmarkSpecification(
    name="compat-adme-multi",
    dataset=dataset,
    target_cols=["LOG_SOLUBILITY", "LOG_PERMEABILITY"],
    input_cols=["smiles"],
    split=(train_idx, {"scaffold": list(range(40, 50)), "random": list(range(50, n))}),
    metrics=["mean_absolute_error", "spearmanr"],
    main_metric="spearmanr",
    owner=owner,
)
assert multi.task_type == "multi_task" and multi.test_set_labels == ["random", "scaffold"]

bench_path = single.to_json(tempfile.mkdtemp())
loaded = po.load_benchmark(bench_path)
assert type(loaded) is SingleTaskBenchmarkSpecification and loaded.md5sum == single.md5sum

train, test = multi.get_train_test_split()
assert isinstance(test, dict) and set(test) == {"scaffold", "random"}
y = train.targets
assert set(y) == {"LOG_SOLUBILITY", "LOG_PERMEABILITY"} and len(y["LOG_SOLUBILITY"]) == 40
assert train.is_multi_task and not train.is_multi_input

# upload as in the tutorial, then use them from the Hub
dataset.upload_to_hub(owner="demo-user", access="private")
single.upload_to_hub(owner="demo-user", access="private")
multi.upload_to_hub(owner="demo-user")

remote = po.load_benchmark("demo-user/compat-adme-multi")
assert remote.md5sum == multi.md5sum
train, test = remote.get_train_test_split()
y_pred = {
    name: {t: np.full(len(subset), train.targets[t].mean()) for t in remote.target_cols}
    for name, subset in test.items()
}
results = remote.evaluate(y_pred)
table = results.results
assert set(table["Test set"]) == {"scaffold", "random"}
assert set(table["Target label"]) == {"LOG_SOLUBILITY", "LOG_PERMEABILITY"}
assert len(table) == 2 * 2 * 2
results.name = "compat-mean-baseline"
uploaded = results.upload_to_hub(owner="demo-user")
assert uploaded.hub_url
print("OK s02_custom_dataset_benchmark")

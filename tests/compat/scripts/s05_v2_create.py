"""The V2 tutorials (0.12-0.13 "Zarr datasets" / "Create a benchmark"): a DatasetV2 written with zarr, a
BenchmarkV2Specification with a SplitV2 of Roaring index sets, both saved, uploaded and loaded back."""

import tempfile
from pathlib import Path

import numpy as np
import zarr
from pyroaring import BitMap

import polaris as po
from polaris.benchmark._benchmark_v2 import BenchmarkV2Specification
from polaris.benchmark._split_v2 import IndexSet, SplitV2
from polaris.dataset import ColumnAnnotation, DatasetV2

n = 120
rng = np.random.default_rng(2)
path = Path(tempfile.mkdtemp()) / "conformers.zarr"
root = zarr.open_group(str(path), mode="w", zarr_format=2)
coords = rng.normal(size=(n, 8, 3)).astype(np.float32)
energy = coords.sum(axis=(1, 2)).astype(np.float64) + rng.normal(scale=0.1, size=n)
root.create_array("coords", shape=coords.shape, dtype=coords.dtype, chunks=(30, 8, 3))[:] = coords
root.create_array("energy", shape=(n,), dtype=np.float64, chunks=(30,))[:] = energy
zarr.consolidate_metadata(str(path))

dataset = DatasetV2(
    name="compat-conformers-v2",
    description="Random conformers and a made-up energy",
    zarr_root_path=str(path),
    annotations={"coords": ColumnAnnotation(description="xyz of 8 atoms"), "energy": ColumnAnnotation()},
    owner="demo-user",
    license="CC-BY-4.0",
)
assert len(dataset) == n and dataset.size() == (n, 2)
assert dataset.get_data(5, "coords").shape == (8, 3)

split = SplitV2(training=IndexSet(indices=BitMap(range(90))), test=IndexSet(indices=BitMap(range(90, n))))
benchmark = BenchmarkV2Specification(
    name="compat-conformers-energy",
    dataset=dataset,
    target_cols=["energy"],
    input_cols=["coords"],
    split=split,
    metrics=["mean_absolute_error", "r2"],
    main_metric="r2",
    owner="demo-user",
)
assert benchmark.split.n_train_datapoints == 90 and benchmark.split.n_test_datapoints == {"test": 30}
assert [label for label, _ in benchmark.split.test_items()] == ["test"]
assert benchmark.n_train_datapoints == 90 and benchmark.test_set_sizes == {"test": 30}

# the 0.13 spelling of the same split
split13 = SplitV2(training=IndexSet(indices=list(range(90))), test_sets={"test": IndexSet(indices=range(90, n))})
assert split13.test.datapoints == 30

saved = benchmark.to_json(tempfile.mkdtemp())
again = po.load_benchmark(saved)
assert isinstance(again, BenchmarkV2Specification)
assert list(again.split.test.indices) == list(range(90, n))

train, test = benchmark.get_train_test_split(featurization_fn=lambda xyz: np.asarray(xyz).sum())
assert np.allclose(train.inputs, coords[:90].sum(axis=(1, 2)), atol=1e-4)

dataset.upload_to_hub(owner="demo-user", access="private")
benchmark.upload_to_hub(owner="demo-user", access="private")

remote = po.load_benchmark("demo-user/compat-conformers-energy")
assert isinstance(remote, BenchmarkV2Specification)
assert list(remote.split.training.indices) == list(range(90))
train, test = remote.get_train_test_split(featurization_fn=lambda xyz: np.asarray(xyz).sum())
results = remote.evaluate(y_pred=np.asarray(test["test"].inputs))
scores = dict(zip(results.results["Metric"], results.results["Score"], strict=True))
assert scores["r2"] > 0.9, scores
print("OK s05_v2_create")

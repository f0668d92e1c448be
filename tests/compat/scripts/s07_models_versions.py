"""Models (0.11-0.13 ``polaris.model.Model``) and versions (0.12): a model card uploaded and loaded, results that
name it, and a dataset uploaded as a new version of an earlier one."""

import numpy as np
import pandas as pd

import polaris as po
from polaris.dataset import DatasetV1
from polaris.model import Model

model = Model(
    name="compat-linear-model",
    description="Linear regression on calc",
    readme="# Linear\n\nOne coefficient and an intercept.",
    code_url="https://github.com/example/linear",
    report_url="https://example.org/linear",
    tags=["linear"],
)
model.upload_to_hub(owner="demo-user", access="public")
loaded = po.load_model("demo-user/compat-linear-model")
assert loaded.code_url == model.code_url and loaded.readme == model.readme
assert loaded.artifact_version == 1

benchmark = po.load_benchmark("polaris-demo/freesolv-hydration-free-energy")
train, test = benchmark.get_train_test_split()
results = benchmark.evaluate(np.zeros(len(test)))
results.name = "compat-zero-with-model"
uploaded = results.upload_to_hub(owner="demo-user", model=loaded)
assert uploaded.model_artifact_id == "demo-user/compat-linear-model"

try:
    Model(name="compat-onnx", file_path="model.onnx")
except ValueError as exc:  # polaris-lib's ONNX upload is not provided
    assert "file_path" in str(exc)
else:
    raise AssertionError("file_path should be refused with a reason")

df = pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20.0) * 2})
first = DatasetV1(table=df, name="compat-versioned", owner="demo-user", license="CC0-1.0")
first.upload_to_hub(owner="demo-user")
v1 = po.load_dataset("demo-user/compat-versioned")
assert v1.artifact_version == 1

second = DatasetV1(
    table=pd.concat([df, df.iloc[:5]], ignore_index=True),
    name="compat-versioned-2",
    owner="demo-user",
    license="CC0-1.0",
    artifact_changelog="five more rows",
)
answer = second.upload_to_hub(owner="demo-user", parent_artifact_id="demo-user/compat-versioned")
new_slug = answer["slug"]  # the Hub names the new version
v2 = po.load_dataset(f"demo-user/{new_slug}")
assert v2.artifact_version == 2 and v2.size() == (25, 2), (v2.artifact_version, v2.size())
assert v2.parent_artifact_id == "demo-user/compat-versioned" and v2.artifact_changelog == "five more rows"
print("OK s07_models_versions")

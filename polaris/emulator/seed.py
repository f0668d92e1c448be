"""``--seed demo``: demo users, an organization and real demo artifacts, built deterministically.

Content (owner ``polaris-demo``, member ``demo-user``):

* ``freesolv`` — public V1 dataset, the FreeSolv hydration free energies (``seed_data/freesolv.csv``);
* ``freesolv-hydration-free-energy`` — public regression benchmark on it (80/20 split, seed 42);
* ``freesolv-zarr`` — public V2 (Zarr format 2) dataset with the first ``V2_ROWS`` molecules' values;
* ``freesolv-challenge`` — public competition on a competition dataset whose test targets are hidden (0.10);
* ``freesolv-zarr-expt`` — public V2 benchmark on ``freesolv-zarr`` (0.11+): predict ``expt`` from ``calc``, index
  sets stored as Roaring bitmaps;
* ``freesolv-zarr-challenge`` — public 0.11-style competition: a Zarr archive (``calc``, ``expt`` with the test
  rows' ``expt`` masked), hidden labels, open from ``COMPETITION_START`` to ``COMPETITION_END``;
* ``freesolv-linear-baseline`` — public model card.

Running it twice (restart with ``--data-dir``) stores the same rows and the same object bytes again.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from polaris.emulator.db import Database
from polaris.emulator.objects import ObjectStore

DEMO_USERS = [("demo-user", "demo-password"), ("other-user", "other-password")]
DEMO_ORG = "polaris-demo"
SPLIT_SEED = 42
TEST_FRACTION = 0.2
V2_ROWS = 100
COMPETITION_TEST_FRACTION = 0.25
METRICS = [
    {"label": "mean_absolute_error", "kind": "default", "name": "mean_absolute_error"},
    {"label": "r2", "kind": "default", "name": "r2"},
    {"label": "spearmanr", "kind": "default", "name": "spearmanr"},
]
CITATION = "https://doi.org/10.1007/s10822-014-9747-x"
SOURCE = "https://github.com/MobleyLab/FreeSolv"
POLARIS_VERSION = "0.10.0"
PARQUET_TYPE = "application/vnd.apache.parquet"
ROARING_TYPE = "application/vnd.roaringbitmap"
COMPETITION_START = "2025-01-01T00:00:00Z"
COMPETITION_END = "2099-12-31T23:59:59Z"


def _table() -> Any:
    import pandas as pd

    with resources.files("polaris.emulator").joinpath("seed_data/freesolv.csv").open("rb") as fh:
        df = pd.read_csv(fh)
    df = df[["smiles", "iupac", "expt", "calc"]]
    return df.astype({"smiles": object, "iupac": object, "expt": "float64", "calc": "float64"})


def _parquet(df: Any) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, engine="pyarrow", index=False)
    return buf.getvalue()


def _annotations(df: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in df.columns:
        entry: dict[str, Any] = {
            "isPointer": False,
            "modality": "UNKNOWN",
            "userAttributes": {},
            "dtype": str(df[col].dtype),
        }
        if col == "smiles":
            entry.update(modality="MOLECULE", contentType="chemical/x-smiles", description="Molecule (SMILES)")
        elif col == "iupac":
            entry["description"] = "IUPAC name"
        elif col == "expt":
            entry["description"] = "Experimental hydration free energy (kcal/mol)"
        elif col == "calc":
            entry["description"] = "Calculated hydration free energy, GAFF/TIP3P (kcal/mol)"
        out[col] = entry
    return out


def _base(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "tags": ["demo", "hydration-free-energy"],
        "userAttributes": {"origin": "FreeSolv"},
        "polarisVersion": POLARIS_VERSION,
    }


def _split(n: int, fraction: float) -> tuple[list[int], list[int]]:
    import numpy as np

    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_test = round(n * fraction)
    return sorted(int(i) for i in order[n_test:]), sorted(int(i) for i in order[:n_test])


def _v1_dataset_body(df: Any, parquet: bytes, name: str, description: str) -> dict[str, Any]:
    from polaris.checksum_rows import table_md5

    return {
        **_base(name, description),
        "tableContent": {"size": len(parquet), "fileType": "parquet", "md5Sum": hashlib.md5(parquet).hexdigest()},
        "zarrContent": [],
        "zarrMd5SumManifest": [],
        "defaultAdapters": {"smiles": "SMILES_TO_MOL"},
        "readme": f"# {name}\n\nFreeSolv: experimental and calculated hydration free energies of small molecules.\n",
        "annotations": _annotations(df),
        "source": SOURCE,
        "license": "CC-BY-4.0",
        "curationReference": CITATION,
        "md5Sum": table_md5(df),
        "nRows": len(df),
        "nColumns": len(df.columns),
    }


def _benchmark_body(name: str, dataset_id: str, dataset_md5: str, train: list[int], test: list[int]) -> dict[str, Any]:
    from polaris.checksum import benchmark_md5

    split = [train, {"test": test}]
    return {
        **_base(name, "Predict the experimental hydration free energy from the molecule."),
        "targetCols": ["expt"],
        "inputCols": ["smiles"],
        "split": split,
        "metrics": METRICS,
        "mainMetric": "mean_absolute_error",
        "readme": f"# {name}\n\nRegression of `expt` from `smiles`; random 80/20 split (seed {SPLIT_SEED}).\n",
        "targetTypes": {"expt": "regression"},
        "md5Sum": benchmark_md5(dataset_md5, ["expt"], ["smiles"], METRICS, split),
        "datasetArtifactId": dataset_id,
        "nTrainDatapoints": len(train),
        "nTestSets": 1,
        "nTestDatapoints": {"test": len(test)},
        "testSetLabels": ["test"],
        "testSetSizes": {"test": len(test)},
        "taskType": "single_task",
    }


def _zarr_v2(df: Any, store: ObjectStore, prefix: str) -> tuple[dict[str, Any], str]:
    """Write a Zarr (format 2) archive of the first V2_ROWS values, upload it; returns (annotations, manifest md5)."""
    import numpy as np

    head = df.head(V2_ROWS)
    arrays = {col: head[col].to_numpy(dtype=np.float64) for col in ("expt", "calc")}
    return _zarr_archive(arrays, store, prefix, chunk=50)


def _zarr_archive(arrays: dict[str, Any], store: ObjectStore, prefix: str, *, chunk: int) -> tuple[dict[str, Any], str]:
    """Write float64 columns as a consolidated Zarr (format 2) archive + manifest under ``prefix``."""
    import zarr

    from polaris.checksum_zarr import write_zarr_manifest

    with tempfile.TemporaryDirectory(prefix="polaris-seed-") as tmp:
        root = Path(tmp) / "data.zarr"
        group = zarr.open_group(str(root), mode="w", zarr_format=2)
        for col, values in arrays.items():
            arr = group.create_array(col, shape=values.shape, chunks=(chunk,), dtype="float64")
            arr[:] = values
        zarr.consolidate_metadata(str(root))
        manifest_path = Path(tmp) / "zarr_manifest.parquet"
        manifest_md5 = write_zarr_manifest(root, manifest_path)
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            store.put(f"{prefix}/data.zarr/{file.relative_to(root).as_posix()}", file.read_bytes())
        store.put(f"{prefix}/zarr_manifest.parquet", manifest_path.read_bytes(), content_type=PARQUET_TYPE)
    annotations = {
        col: {"isPointer": False, "modality": "UNKNOWN", "userAttributes": {}, "dtype": "float64"} for col in arrays
    }
    return annotations, manifest_md5


def _index_set(store: ObjectStore, key: str, indices: list[int]) -> dict[str, Any]:
    """Store one V2-benchmark index set as pyroaring serialises it; returns its ``{datapoints, md5Checksum}``."""
    from pyroaring import BitMap

    data = BitMap(indices).serialize()
    store.put(key, data, content_type=ROARING_TYPE)
    return {"datapoints": len(indices), "md5Checksum": hashlib.md5(data).hexdigest()}


def _seed_modern(db: Database, store: ObjectStore, df: Any, creator: str) -> None:
    """The 0.11+ content: a V2 benchmark, a Zarr-backed competition and a model."""
    import math

    import numpy as np

    v2_train, v2_test = _split(V2_ROWS, TEST_FRACTION)
    slug = "freesolv-zarr-expt"
    b_prefix = f"benchmark/{DEMO_ORG}/{slug}"
    split = {
        "training": _index_set(store, f"{b_prefix}/training.roaring", v2_train),
        "test": _index_set(store, f"{b_prefix}/test.roaring", v2_test),
    }
    bench = {
        **_base(slug, "Predict the experimental hydration free energy from the calculated one (V2 benchmark)."),
        "polarisVersion": "0.12.1",
        "datasetArtifactId": f"{DEMO_ORG}/freesolv-zarr",
        "targetCols": ["expt"],
        "inputCols": ["calc"],
        "split": split,
        "metrics": METRICS,
        "mainMetric": "mean_absolute_error",
        "readme": f"# {slug}\n\nRegression of `expt` from `calc`; random 80/20 split (seed {SPLIT_SEED}).\n",
        "targetTypes": {},
        "nClasses": {},
        "nTrainDatapoints": len(v2_train),
        "nTestSets": 1,
        "nTestDatapoints": {"test": len(v2_test)},
        "testSetLabels": ["test"],
        "testSetSizes": {"test": len(v2_test)},
        "taskType": "single_task",
        "version": 2,
        "artifactVersion": 1,
        "parentArtifactId": None,
    }
    db.put_artifact("benchmark_v2", DEMO_ORG, slug, "public", bench, created_by=creator)

    c_slug = "freesolv-zarr-challenge"
    c_train, c_test = _split(len(df), COMPETITION_TEST_FRACTION)
    expt = df["expt"].to_numpy(dtype=np.float64).copy()
    labels = [float(expt[i]) for i in c_test]
    expt[c_test] = math.nan
    arrays = {"calc": df["calc"].to_numpy(dtype=np.float64), "expt": expt}
    annotations, manifest_md5 = _zarr_archive(arrays, store, f"competition/{DEMO_ORG}/{c_slug}", chunk=128)
    comp = {
        **_base(c_slug, "Predict the hidden experimental hydration free energies from the calculated ones."),
        "polarisVersion": "0.11.10",
        "zarrManifestFileContent": {"md5Sum": manifest_md5},
        "zarrManifestMd5Sum": manifest_md5,
        "defaultAdapters": {},
        "annotations": annotations,
        "readme": f"# {c_slug}\n\nA 0.11-style competition: the test rows' `expt` is masked in the archive.\n",
        "source": SOURCE,
        "license": "CC-BY-4.0",
        "curationReference": CITATION,
        "nRows": len(df),
        "nColumns": len(arrays),
        "targetCols": ["expt"],
        "inputCols": ["calc"],
        "split": [c_train, {"test": c_test}],
        "metrics": METRICS,
        "mainMetric": "mean_absolute_error",
        "targetTypes": {"expt": "regression"},
        "nTrainDatapoints": len(c_train),
        "nTestSets": 1,
        "nTestDatapoints": {"test": len(c_test)},
        "testSetLabels": ["test"],
        "testSetSizes": {"test": len(c_test)},
        "taskType": "single_task",
        "startTime": COMPETITION_START,
        "endTime": COMPETITION_END,
    }
    hidden = {"labels": {"test": {"expt": labels}}}
    db.put_artifact("competition_v1", DEMO_ORG, c_slug, "public", comp, created_by=creator, hidden=hidden)

    model = {
        **_base("freesolv-linear-baseline", "A linear fit of expt on calc (demo model card)."),
        "polarisVersion": "0.12.1",
        "readme": "# freesolv-linear-baseline\n\n`expt ~ a * calc + b`, fitted on the training rows.\n",
        "codeUrl": "https://github.com/MobleyLab/FreeSolv",
        "artifactVersion": 1,
        "parentArtifactId": None,
    }
    db.put_artifact("model", DEMO_ORG, "freesolv-linear-baseline", "public", model, created_by=creator)


def seed_demo(db: Database, store: ObjectStore) -> list[tuple[str, str]]:
    """Create the demo users, organization and artifacts; returns the demo credentials.

    Raises:
        OSError / botocore errors: the seed data or the object store cannot be used.
    """
    import math

    for name, password in DEMO_USERS:
        db.upsert_user(name, password)
    db.upsert_org(DEMO_ORG, ["demo-user"])
    creator = "demo-user"

    # -- V1 dataset + benchmark
    df = _table()
    parquet = _parquet(df)
    ds_prefix = f"dataset/{DEMO_ORG}/freesolv"
    store.put(f"{ds_prefix}/table.parquet", parquet, content_type=PARQUET_TYPE)
    ds_body = _v1_dataset_body(df, parquet, "freesolv", "FreeSolv hydration free energies of 642 small molecules.")
    db.put_artifact("dataset", DEMO_ORG, "freesolv", "public", ds_body, created_by=creator)

    train, test = _split(len(df), TEST_FRACTION)
    bench = _benchmark_body("freesolv-hydration-free-energy", f"{DEMO_ORG}/freesolv", ds_body["md5Sum"], train, test)
    db.put_artifact("benchmark", DEMO_ORG, "freesolv-hydration-free-energy", "public", bench, created_by=creator)

    # -- V2 dataset
    v2_prefix = f"dataset/{DEMO_ORG}/freesolv-zarr"
    annotations, manifest_md5 = _zarr_v2(df, store, v2_prefix)
    v2_body = {
        **_base("freesolv-zarr", f"Hydration free energies of the first {V2_ROWS} FreeSolv molecules, as Zarr."),
        "zarrManifestFileContent": {"md5Sum": manifest_md5},
        "zarrManifestMd5Sum": manifest_md5,
        "defaultAdapters": {},
        "readme": "# freesolv-zarr\n\nA V2 (Zarr-only) demo dataset.\n",
        "annotations": annotations,
        "source": SOURCE,
        "license": "CC-BY-4.0",
        "curationReference": CITATION,
        "nRows": V2_ROWS,
        "nColumns": len(annotations),
    }
    db.put_artifact("dataset_v2", DEMO_ORG, "freesolv-zarr", "public", v2_body, created_by=creator)

    # -- competition: the served table hides the test targets; the labels stay in the database
    from polaris.checksum_rows import table_md5

    c_train, c_test = _split(len(df), COMPETITION_TEST_FRACTION)
    masked = df.copy()
    masked.loc[c_test, "expt"] = math.nan
    masked_parquet = _parquet(masked)
    cd_prefix = f"competition-dataset/{DEMO_ORG}/freesolv-challenge"
    store.put(f"{cd_prefix}/table.parquet", masked_parquet, content_type=PARQUET_TYPE)
    cd_body = _v1_dataset_body(masked, masked_parquet, "freesolv-challenge", "FreeSolv with hidden test targets.")
    cd_body["maskedMd5Sum"] = table_md5(masked)
    cd_body["md5Sum"] = table_md5(df)
    db.put_artifact("competition_dataset", DEMO_ORG, "freesolv-challenge", "public", cd_body, created_by=creator)
    comp = _benchmark_body("freesolv-challenge", f"{DEMO_ORG}/freesolv-challenge", cd_body["md5Sum"], c_train, c_test)
    comp.update(
        description="Predict hydration free energies of the hidden test molecules.", startTime=None, endTime=None
    )
    hidden = {"labels": {"test": {"expt": [float(v) for v in df.loc[c_test, "expt"]]}}}
    db.put_artifact(
        "competition",
        DEMO_ORG,
        "freesolv-challenge",
        "public",
        comp,
        created_by=creator,
        hidden=json.loads(json.dumps(hidden)),
    )
    _seed_modern(db, store, df, creator)
    return list(DEMO_USERS)

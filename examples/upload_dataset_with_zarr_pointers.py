"""Upload a dataset whose table points into a Zarr archive (e.g. conformers or images), then load it back.

Each cell of a *pointer column* names an array in the archive: ``"conformers#3"`` is row 3 of array
``conformers``. The table goes to the Hub as Parquet, the archive as Zarr; both are checksummed.

    POLARIS_HUB_URL=... POLARIS_USERNAME=... POLARIS_PASSWORD=... \
        python examples/upload_dataset_with_zarr_pointers.py OWNER
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import zarr

from polaris.artifacts import DatasetV1
from polaris.artifacts.dataset import ColumnAnnotation, Modality
from polaris.hub.client import PolarisHubClient


def build(root: Path, owner: str) -> DatasetV1:
    rng = np.random.default_rng(0)
    smiles = ["CCO", "c1ccccc1", "CC(=O)O", "N#N", "CCN", "OCCO"]
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    coords = rng.normal(size=(len(smiles), 12, 3))  # 12 atoms x (x, y, z) per molecule, padded
    group.create_array("conformers", shape=coords.shape, chunks=(2, 12, 3), dtype="float64")[:] = coords
    table = pd.DataFrame(
        {
            "smiles": smiles,
            "conformer": [f"conformers#{i}" for i in range(len(smiles))],
            "energy": rng.normal(size=len(smiles)),
        }
    )
    return DatasetV1(
        name=f"toy-conformers-{time.strftime('%Y%m%d%H%M%S')}",
        owner=owner,
        table=table,
        annotations={
            "smiles": ColumnAnnotation(modality=Modality.MOLECULE, content_type="chemical/x-smiles"),
            "conformer": ColumnAnnotation(is_pointer=True, modality=Modality.MOLECULE_3D),
        },
        zarr_root_path=str(root),
        license="CC-BY-4.0",
        description="Six molecules with a random 3-D conformer each (a toy example)",
    )


def main(owner: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, PolarisHubClient() as client:
        client.login()
        dataset = build(Path(tmp) / "conformers.zarr", owner)
        client.upload_dataset(dataset, access="private", if_exists="skip")
        print(f"uploaded {owner}/{dataset.name}: md5 {dataset.md5sum}")
        back = client.get_dataset(owner, dataset.name or "", verify_checksum="verify")
        assert isinstance(back, DatasetV1)
        shape = back.get_data(2, "conformer").shape
        print(f"downloaded and verified: {back.n_rows} rows; conformer of row 2 has shape {shape}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo-user")

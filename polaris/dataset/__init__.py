"""polaris-lib's ``polaris.dataset``: the dataset classes (the same objects as :mod:`polaris.artifacts`).

Generations: ``Dataset`` is 0.10's name of ``DatasetV1`` (0.11-0.13 name both); ``DatasetV2``, ``ColumnAnnotation``,
``Modality``, ``CompetitionDataset`` and ``Subset`` are in both. The factories and converters (which need RDKit,
datamol, fastpdb) are not provided: importing them raises an ``ImportError`` saying what to use.
"""

from __future__ import annotations

from polaris.artifacts._table_subset import Subset
from polaris.artifacts._zarr_subset import ZarrSubset
from polaris.artifacts.dataset import Adapter, ColumnAnnotation, CompetitionDataset, DatasetV1, DatasetV2, Modality
from polaris.utils._not_provided import module_getattr

__all__ = [
    "Adapter",
    "ColumnAnnotation",
    "CompetitionDataset",
    "Dataset",
    "DatasetV1",
    "DatasetV2",
    "Modality",
    "Subset",
    "ZarrSubset",
]

#: polaris-lib 0.10's name of :class:`DatasetV1`
Dataset = DatasetV1

_BUILD = (
    "build the table with pandas (e.g. pandas.read_csv, or RDKit/datamol to read an SDF into a DataFrame), write "
    "arrays with zarr into a folder, then DatasetV1(table=df, annotations=..., zarr_root_path=...) or "
    "DatasetV2(zarr_root_path=...); see docs/migrating.md"
)
__getattr__ = module_getattr(
    "polaris.dataset",
    {
        "DatasetFactory": _BUILD,
        "create_dataset_from_file": _BUILD,
        "create_dataset_from_files": _BUILD,
        "converters": _BUILD,
        "KnownContentType": "give ColumnAnnotation(content_type=...) a MIME type string, e.g. 'chemical/x-smiles'",
    },
)

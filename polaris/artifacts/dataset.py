"""Datasets: ``DatasetV1`` (a table, optionally with pointer columns into a Zarr archive) and ``DatasetV2`` (Zarr only).

This module is the stable import path; the code lives in sibling modules, one concern each:

* :mod:`polaris.artifacts._dataset_columns`: modalities, adapters, ``ColumnAnnotation``, the Parquet-storability check;
* :mod:`polaris.artifacts._dataset_paths`: Zarr pointer cells and local/remote archive paths;
* :mod:`polaris.artifacts._dataset_base`: the fields and behaviour V1 and V2 share (Zarr root, lazy remote access);
* :mod:`polaris.artifacts._dataset_v1`: ``DatasetV1`` and ``CompetitionDataset``;
* :mod:`polaris.artifacts._dataset_v2`: ``DatasetV2`` and the check of its archive's layout.

Wire forms: Hub sections 6.4-6.6; checksums: :mod:`polaris.checksum`.
"""

from __future__ import annotations

import logging

from polaris.artifacts._dataset_base import REMOTE_ZARR_PLACEHOLDER as REMOTE_ZARR_PLACEHOLDER
from polaris.artifacts._dataset_base import _DatasetBase as _DatasetBase
from polaris.artifacts._dataset_base import _validate_license as _validate_license
from polaris.artifacts._dataset_columns import Adapter as Adapter
from polaris.artifacts._dataset_columns import ColumnAnnotation as ColumnAnnotation
from polaris.artifacts._dataset_columns import Modality as Modality
from polaris.artifacts._dataset_columns import _advice as _advice
from polaris.artifacts._dataset_columns import _dtype_name as _dtype_name
from polaris.artifacts._dataset_columns import _enum_by_name as _enum_by_name
from polaris.artifacts._dataset_columns import check_parquet_storable as check_parquet_storable
from polaris.artifacts._dataset_paths import _POINTER_RE as _POINTER_RE
from polaris.artifacts._dataset_paths import _local_path as _local_path
from polaris.artifacts._dataset_paths import is_remote_path as is_remote_path
from polaris.artifacts._dataset_paths import parse_pointer as parse_pointer
from polaris.artifacts._dataset_v1 import CompetitionDataset as CompetitionDataset
from polaris.artifacts._dataset_v1 import DatasetV1 as DatasetV1
from polaris.artifacts._dataset_v2 import V2_INDEX_ARRAY as V2_INDEX_ARRAY
from polaris.artifacts._dataset_v2 import DatasetV2 as DatasetV2
from polaris.artifacts._dataset_v2 import _check_v2_layout as _check_v2_layout

__all__ = [
    "REMOTE_ZARR_PLACEHOLDER",
    "Adapter",
    "ColumnAnnotation",
    "CompetitionDataset",
    "DatasetV1",
    "DatasetV2",
    "Modality",
    "check_parquet_storable",
    "is_remote_path",
    "parse_pointer",
]

logger = logging.getLogger(__name__)

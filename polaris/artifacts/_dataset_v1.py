"""``DatasetV1`` (a table, optionally with pointer columns into a Zarr archive) and ``CompetitionDataset``.

Re-exported by :mod:`polaris.artifacts.dataset`; wire forms: Hub sections 6.4-6.5; checksums: :mod:`polaris.checksum`.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
from pydantic import Field, PrivateAttr, computed_field, field_validator, model_validator

from polaris import checksum, checksum_md5, checksum_rows, checksum_zarr
from polaris.artifacts._base import require_md5
from polaris.artifacts._dataset_base import REMOTE_ZARR_PLACEHOLDER, _DatasetBase
from polaris.artifacts._dataset_columns import ColumnAnnotation, _dtype_name, check_parquet_storable, refuse_adapters
from polaris.artifacts._dataset_paths import _local_path, is_remote_path, parse_pointer
from polaris.errors import InvalidArtifactError, LicenseRequiredError

__all__ = ["CompetitionDataset", "DatasetV1"]


class DatasetV1(_DatasetBase):
    """A table (pandas DataFrame) plus metadata; pointer columns reference arrays in a Zarr archive.

    ``md5sum`` is computed from the table (and the local Zarr archive) on first access, or set from the Hub.

    Raises (on construction):
        pydantic.ValidationError: a rule of section 8 is broken; the message names the field.
    """

    table: Any = Field(default=None, exclude=True)
    zarr_root_path: str | None = None

    _md5sum: str | None = PrivateAttr(default=None)
    _zarr_manifest: list[checksum_zarr.ZarrFileEntry] = PrivateAttr(default_factory=list)
    _zarr_digest: str | None = PrivateAttr(default=None)
    _wire_shape: tuple[int | None, int | None] = PrivateAttr(default=(None, None))

    @field_validator("table", mode="before")
    @classmethod
    def _table(cls, value: Any) -> Any:
        if value is None or isinstance(value, pd.DataFrame):
            return value
        if isinstance(value, (str, os.PathLike)):
            return pd.read_parquet(value)
        if isinstance(value, dict):
            return pd.DataFrame(value)
        raise ValueError(f"table must be a pandas DataFrame or a Parquet path, got {type(value).__name__}")

    @field_validator("zarr_root_path", mode="before")
    @classmethod
    def _zarr_path(cls, value: Any) -> Any:
        return None if value is None else str(value)

    @model_validator(mode="wrap")
    @classmethod
    def _hub_values(cls, data: Any, handler: Any) -> Any:
        md5 = n_rows = n_cols = None
        if isinstance(data, dict):
            md5 = data.get("md5Sum", data.get("md5sum"))
            n_rows, n_cols = data.get("nRows", data.get("n_rows")), data.get("nColumns", data.get("n_columns"))
        obj = handler(data)
        if isinstance(obj, DatasetV1):
            if md5 is not None:
                obj.md5sum = md5
            if obj.table is None:
                obj._wire_shape = (n_rows, n_cols)
        return obj

    @model_validator(mode="after")
    def _check(self) -> DatasetV1:
        table = self.table
        if table is None:
            return self
        columns = list(table.columns)
        if not all(isinstance(c, str) for c in columns):
            raise ValueError("table: column names must be strings")
        if len(set(columns)) != len(columns):
            dupes = sorted({c for c in columns if columns.count(c) > 1})
            raise ValueError(f"table: duplicate column names {dupes}")
        unknown = sorted(set(self.annotations) - set(columns))
        if unknown:
            raise ValueError(f"annotations: keys {unknown} are not columns of the table")
        unknown = sorted(set(self.default_adapters) - set(columns))
        if unknown:
            raise ValueError(f"default_adapters: keys {unknown} are not columns of the table")
        for col in columns:
            ann = self.annotations.get(col) or ColumnAnnotation()
            self.annotations[col] = ann.model_copy(update={"dtype": _dtype_name(table[col].dtype)})
        has_pointers = bool(self.pointer_columns)
        if has_pointers and self.zarr_root_path is None and self._zarr_root is None:
            raise ValueError(f"zarr_root_path: pointer columns {self.pointer_columns} need a Zarr archive")
        if not has_pointers and self.zarr_root_path is not None:
            raise ValueError("zarr_root_path: set, but no column is annotated is_pointer=True")
        return self

    # -- derived --------------------------------------------------------------------------------------------------

    @property
    def pointer_columns(self) -> list[str]:
        return [c for c, a in self.annotations.items() if a.is_pointer]

    @property
    def uses_zarr(self) -> bool:
        return bool(self.pointer_columns)

    @property
    def columns(self) -> list[str]:
        if self.table is not None:
            return list(self.table.columns)
        return list(self.annotations)

    @property
    def rows(self) -> list[Any]:
        return list(self.table.index) if self.table is not None else []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_rows(self) -> int | None:
        return len(self.table) if self.table is not None else self._wire_shape[0]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_columns(self) -> int | None:
        return int(self.table.shape[1]) if self.table is not None else self._wire_shape[1]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def md5sum(self) -> str | None:
        """Content checksum (section 7.1): computed from the table on first access, or the value set from the Hub.

        Raises:
            FileNotFoundError: pointer columns but the Zarr archive is not local.
        """
        if self._md5sum is None and self.table is not None:
            self._md5sum = self.compute_md5sum()
        return self._md5sum

    @md5sum.setter
    def md5sum(self, value: str) -> None:
        self._md5sum = require_md5(value, "md5sum")

    def compute_md5sum(self) -> str:
        """Recompute the checksum from the table (and the local Zarr archive); also refreshes :attr:`zarr_manifest`.

        Raises:
            InvalidArtifactError: no table.
            FileNotFoundError: pointer columns but the Zarr archive is not a local directory.
        """
        if self.table is None:
            raise InvalidArtifactError("cannot compute the checksum of a dataset without its table")
        digest = None
        if self.uses_zarr:
            if self.zarr_root_path is None or is_remote_path(self.zarr_root_path):
                raise FileNotFoundError(
                    f"cannot compute the checksum of dataset {self.name!r}: its Zarr archive "
                    f"({self.zarr_root_path!r}) is not a local directory"
                )
            digest, entries = checksum_zarr.zarr_tree_digest(_local_path(self.zarr_root_path))
            self._zarr_manifest = entries
            self._zarr_digest = digest
        return checksum_rows.dataset_md5(self.table, digest)

    @property
    def zarr_manifest(self) -> list[checksum_zarr.ZarrFileEntry]:
        """Per-file manifest of the Zarr archive (filled when the checksum was computed locally)."""
        if (
            self.uses_zarr
            and not self._zarr_manifest
            and self.zarr_root_path
            and not is_remote_path(self.zarr_root_path)
        ):
            _, self._zarr_manifest = checksum_zarr.zarr_tree_digest(_local_path(self.zarr_root_path))
        return list(self._zarr_manifest)

    def verify_checksum(self, expected: str) -> None:
        """Recompute the checksum and compare with ``expected``.

        Raises:
            PolarisChecksumError: they differ.
        """
        checksum.verify_md5(expected, self.compute_md5sum(), artifact=self.artifact_id or self.name or "dataset")

    # -- data access ----------------------------------------------------------------------------------------------

    def get_data(self, row: int, col: str, adapters: Any = None) -> Any:
        """The value at (row position, column); pointer cells are read from the Zarr archive.

        Raises:
            InvalidArtifactError: no table, or a pointer column without a usable Zarr archive.
            KeyError / IndexError: unknown column or row.
        """
        refuse_adapters(adapters)
        if self.table is None:
            raise InvalidArtifactError("this dataset has no table loaded")
        value = self.table[col].iloc[row]
        ann = self.annotations.get(col)
        if ann is None or not ann.is_pointer:
            return value
        path, index = parse_pointer(value)
        array = self.zarr_root[path]
        if index is None:
            return array[:]
        return array[index]

    # -- upload checks and wire -----------------------------------------------------------------------------------

    def check_uploadable(self) -> None:
        """Raise before anything is sent if the Hub would refuse this dataset.

        Raises:
            LicenseRequiredError: no license.
            InvalidArtifactError: no name, owner or table; a column Parquet cannot store faithfully (see
                :func:`check_parquet_storable`); or the Zarr archive is not local.
        """
        if self.license is None:
            raise LicenseRequiredError(f"dataset {self.name!r} has no license; the Hub requires one")
        if not self.name:
            raise InvalidArtifactError("dataset.name is required to upload a dataset")
        if self.owner is None:
            raise InvalidArtifactError("dataset.owner is required to upload a dataset")
        if self.table is None:
            raise InvalidArtifactError("dataset.table is required to upload a V1 dataset")
        check_parquet_storable(self.table)
        if self.uses_zarr and (self.zarr_root_path is None or is_remote_path(self.zarr_root_path)):
            raise InvalidArtifactError(
                f"zarr_root_path: the Zarr archive of pointer columns {self.pointer_columns} must be a local directory "
                "to upload it"
            )

    def to_wire(
        self,
        *,
        table_content: dict[str, Any] | None = None,
        zarr_content: list[checksum_zarr.ZarrFileEntry] | None = None,
    ) -> dict[str, Any]:
        """The PUT ``/v1/dataset`` body.

        ``table_content`` = ``{size, fileType, md5Sum}`` of the uploaded Parquet bytes (omitted when not given);
        ``zarr_content`` defaults to :attr:`zarr_manifest`. ``zarrRootPath`` is the placeholder the Hub expects.
        """
        manifest = self.zarr_manifest if zarr_content is None else list(zarr_content)
        body = self.to_wire_base()
        body.pop("zarrRootPath", None)
        out: dict[str, Any] = {}
        if table_content is not None:
            out["tableContent"] = dict(table_content)
        out["zarrContent"] = [e.to_wire() for e in manifest]
        out.update(body)
        if self.uses_zarr:
            out["zarrRootPath"] = REMOTE_ZARR_PLACEHOLDER
        out["zarrMd5SumManifest"] = [e.to_wire(camel=True) for e in manifest]
        return out

    @classmethod
    def from_wire(cls, data: Any, **extra: Any) -> Any:
        """Build from a GET ``/v1/dataset`` response; the Hub's ``zarrRootPath`` is discarded (pass the storage
        location as ``zarr_root_path=...``) and ``table`` is given as a keyword.

        Raises:
            pydantic.ValidationError: the data breaks a rule (the error names the field).
        """
        cleaned = {k: v for k, v in dict(data).items() if k not in ("zarrRootPath", "zarr_root_path", "table")}
        return super().from_wire(cleaned, **extra)


class CompetitionDataset(DatasetV1):
    """A dataset of a competition: like :class:`DatasetV1` plus ``maskedMd5Sum``; never uses Zarr."""

    artifact_type = "competitionDataset"

    masked_md5sum: str | None = None

    @field_validator("masked_md5sum")
    @classmethod
    def _masked(cls, value: str | None) -> str | None:
        if value is not None and not checksum_md5.is_md5(value):
            raise ValueError(f"masked_md5sum must be 32 lowercase hex characters, got {value!r}")
        return value

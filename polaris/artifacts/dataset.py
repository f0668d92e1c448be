"""Datasets: ``DatasetV1`` (a table, optionally with pointer columns into a Zarr archive) and ``DatasetV2`` (Zarr only).

Wire forms: Hub sections 6.4-6.6; checksums: :mod:`polaris.checksum`.
"""

from __future__ import annotations

import logging
import os
import re
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    computed_field,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from polaris import checksum
from polaris.artifacts._base import VersionedArtifactModel, html_fields, require_md5, url_fields
from polaris.errors import InvalidArtifactError, LicenseRequiredError
from polaris.types import SUPPORTED_LICENSES, AccessType, License

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

#: The ``zarrRootPath`` the Hub expects in a V1 dataset PUT body when the dataset has pointer columns.
REMOTE_ZARR_PLACEHOLDER = "polarisfs://data.zarr"
#: Name of the array inside each top-level group of a V2 archive that lists the group's members.
V2_INDEX_ARRAY = "__index__"

_POINTER_RE = re.compile(r"^(?P<path>[^#]+)(?:#(?:(?P<start>-?\d+):(?P<end>-?\d+)|(?P<index>-?\d+)))?$")


class Modality(StrEnum):
    """What a column holds; sent as the enum *name*."""

    UNKNOWN = "UNKNOWN"
    MOLECULE = "MOLECULE"
    MOLECULE_3D = "MOLECULE_3D"
    PROTEIN = "PROTEIN"
    PROTEIN_3D = "PROTEIN_3D"
    IMAGE = "IMAGE"


class Adapter(StrEnum):
    """Default adapters a column can declare; sent as the enum *name*."""

    SMILES_TO_MOL = "SMILES_TO_MOL"
    BYTES_TO_MOL = "BYTES_TO_MOL"
    ARRAY_TO_PDB = "ARRAY_TO_PDB"


def _enum_by_name(value: Any, enum: type[Enum]) -> Any:
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        key = value.strip().upper()
        if key in enum.__members__:
            return enum.__members__[key]
        raise ValueError(f"unknown {enum.__name__} {value!r}; expected one of {', '.join(enum.__members__)}")
    return value


class ColumnAnnotation(BaseModel):
    """Per-column metadata (section 6.4)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    is_pointer: bool = False
    modality: Modality = Modality.UNKNOWN
    description: str | None = None
    user_attributes: dict[str, str] = Field(default_factory=dict)
    dtype: str | None = None
    content_type: str | None = None

    @field_validator("modality", mode="before")
    @classmethod
    def _modality(cls, value: Any) -> Any:
        return _enum_by_name(value, Modality)

    @field_validator("dtype", mode="before")
    @classmethod
    def _dtype(cls, value: Any) -> Any:
        return None if value is None else str(np.dtype(value)) if not isinstance(value, str) else value

    @field_serializer("modality")
    def _modality_out(self, value: Modality) -> str:
        return value.name


def is_remote_path(path: str | os.PathLike[str] | None) -> bool:
    """True for ``scheme://`` locations other than ``file://``."""
    if path is None:
        return False
    text = str(path)
    return "://" in text and not text.startswith("file://")


def _local_path(path: str | os.PathLike[str]) -> Path:
    text = str(path)
    return Path(text[len("file://") :] if text.startswith("file://") else text)


def _dtype_name(dtype: Any) -> str:
    """numpy dtype name of a column; pandas string dtypes (pandas 3's default ``str``) are reported as ``object``."""
    if isinstance(dtype, pd.StringDtype) or str(dtype) in ("str", "string"):
        return "object"
    return str(dtype)


def _advice(kind: str) -> str:
    return {
        "Decimal": "convert it to float (df[col].astype(float)) or to str",
        "dict": "convert it to a JSON string (df[col].map(json.dumps))",
        "list": "store it as a pointer column into a Zarr archive, or convert it to a JSON string",
        "tuple": "store it as a pointer column into a Zarr archive, or convert it to a JSON string",
        "set": "convert it to a sorted list in a JSON string",
        "ndarray": "store it as a pointer column into a Zarr archive",
        "complex": "convert it into two float columns (real and imaginary parts)",
        "mixed": "convert it to one type, e.g. df[col].astype(str)",
    }.get(kind, "convert it to str, a number or a pointer column")


def check_parquet_storable(table: pd.DataFrame) -> None:
    """Refuse, before anything is sent, a table whose Parquet round trip would not give back the same values.

    The dataset checksum is computed from the table as the uploaded Parquet file gives it back; columns whose cells
    Parquet cannot store as one plain type (``Decimal``, dicts, lists, tuples, sets, arrays, complex numbers, a mix
    of types) are refused with the column, its dtype and what to convert it to.

    Raises:
        InvalidArtifactError: such a column (the message names it).
    """
    import numbers
    from decimal import Decimal

    for col in table.columns:
        series = table[col]
        dtype = series.dtype
        if isinstance(dtype, np.dtype) and dtype.kind == "c":
            raise InvalidArtifactError(
                f"column {col!r} has dtype {dtype}, which Parquet cannot store; {_advice('complex')}"
            )
        if not (isinstance(dtype, np.dtype) and dtype.kind == "O"):
            continue
        kinds: set[str] = set()
        for value in series.dropna():
            if isinstance(value, bool | np.bool_):
                kinds.add("bool")
            elif isinstance(value, Decimal):
                kinds.add("Decimal")
            elif isinstance(value, complex | np.complexfloating):
                kinds.add("complex")
            elif isinstance(value, numbers.Integral | numbers.Real):
                kinds.add("number")
            elif isinstance(value, str):
                kinds.add("str")
            elif isinstance(value, bytes):
                kinds.add("bytes")
            elif isinstance(value, dict):
                kinds.add("dict")
            elif isinstance(value, list | tuple | set | np.ndarray):
                kinds.add(type(value).__name__)
            else:
                kinds.add(type(value).__name__)
        odd = sorted(k for k in kinds if k not in ("bool", "number", "str", "bytes"))
        if odd:
            raise InvalidArtifactError(
                f"column {col!r} (dtype {dtype}) holds {odd[0]} values, which do not survive the Parquet file the "
                f"dataset is stored as; {_advice(odd[0])}"
            )
        if len(kinds) > 1:
            raise InvalidArtifactError(
                f"column {col!r} (dtype {dtype}) mixes {' and '.join(sorted(kinds))} values, which do not survive "
                f"the Parquet file the dataset is stored as; {_advice('mixed')}"
            )


def parse_pointer(value: str) -> tuple[str, int | slice | None]:
    """``"arr"`` -> (arr, None); ``"arr#3"`` -> (arr, 3); ``"arr#2:5"`` -> (arr, slice(2, 5)).

    Raises:
        ValueError: not a pointer.
    """
    match = _POINTER_RE.match(str(value))
    if match is None:
        raise ValueError(f"invalid Zarr pointer {value!r}; expected 'path', 'path#i' or 'path#start:end'")
    if match.group("index") is not None:
        return match.group("path"), int(match.group("index"))
    if match.group("start") is not None:
        return match.group("path"), slice(int(match.group("start")), int(match.group("end")))
    return match.group("path"), None


def _validate_license(value: Any) -> Any:
    if value is not None and value not in SUPPORTED_LICENSES:
        raise ValueError(f"license {value!r} is not supported; use one of {', '.join(SUPPORTED_LICENSES)}")
    return value


class _DatasetBase(VersionedArtifactModel):
    """Fields DatasetV1 and DatasetV2 share."""

    artifact_type = "dataset"

    default_adapters: dict[str, Adapter] = Field(default_factory=dict)
    readme: str = ""
    annotations: dict[str, ColumnAnnotation] = Field(default_factory=dict)
    source: str | None = None
    license: License | None = None
    curation_reference: str | None = None
    access: AccessType = "private"

    _zarr_root: Any = PrivateAttr(default=None)
    #: The archive opened lazily in the Hub's storage (``polaris.hub.storage.lazy.RemoteArchive``), if any.
    _remote: Any = PrivateAttr(default=None)
    #: How to open this dataset remotely again (set by the Hub client; not pickled).
    _hub_link: Any = PrivateAttr(default=None)

    @field_validator("license", mode="before")
    @classmethod
    def _license(cls, value: Any) -> Any:
        return _validate_license(value)

    _urls = url_fields("source", "curation_reference")

    @field_validator("default_adapters", mode="before")
    @classmethod
    def _adapters(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _enum_by_name(v, Adapter) for k, v in value.items()}
        return value

    @field_serializer("default_adapters")
    def _adapters_out(self, value: dict[str, Adapter]) -> dict[str, str]:
        return {k: v.name for k, v in value.items()}

    # -- notebooks ------------------------------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        """A summary card in Jupyter: id, version, access, licence, shape, columns, checksum."""
        version = 2 if isinstance(self, DatasetV2) else 1
        checksum_value = self.zarr_manifest_md5sum if isinstance(self, DatasetV2) else getattr(self, "_md5sum", None)
        fields = {
            "version": f"V{version}",
            "access": self.access,
            "license": self.license,
            "rows": getattr(self, "n_rows", None),
            "columns": getattr(self, "columns", []),
            "checksum": checksum_value,
            "description": self.description,
        }
        return html_fields(f"Dataset {self.artifact_id or self.name or '(unnamed)'}", fields)

    # -- Zarr access ----------------------------------------------------------------------------------------------

    @property
    def zarr_root(self) -> Any:
        """The opened Zarr root group (opened read-only on first use from a local ``zarr_root_path``).

        Set it to a ``zarr.Group`` (e.g. one the Hub client opened over object storage) or to a local path.

        Raises:
            InvalidArtifactError: no Zarr root, or a remote path that was not opened by the client.
        """
        if self._zarr_root is None or isinstance(self._zarr_root, (str, os.PathLike)):
            location = self._zarr_root if self._zarr_root is not None else getattr(self, "zarr_root_path", None)
            if location is None:
                raise InvalidArtifactError("this dataset has no Zarr archive (zarr_root_path is not set)")
            if is_remote_path(location):
                raise InvalidArtifactError(
                    f"zarr_root_path {str(location)!r} is remote; open it through PolarisHubClient (which sets "
                    "dataset.zarr_root to an opened group)"
                )
            import zarr

            self._zarr_root = zarr.open_group(str(_local_path(location)), mode="r")
        return self._zarr_root

    @zarr_root.setter
    def zarr_root(self, value: Any) -> None:
        self._zarr_root = value

    # -- remote (lazy) access and scale-out ----------------------------------------------------------------------

    @property
    def is_remote(self) -> bool:
        """True when the Zarr archive is read lazily from the Hub's storage (see :meth:`open_remote`)."""
        return self._remote is not None

    def open_remote(self, *, cache_chunks: bool = True) -> Any:
        """This Hub dataset with its Zarr archive opened lazily in storage, without moving the archive.

        Chunks are fetched when read, verified against the Hub's manifest, and (``cache_chunks``) kept in the local
        cache so reading them again is local. Returns a new dataset object (this one if it is already remote).

        Raises:
            InvalidArtifactError: the dataset did not come from the Hub (``PolarisHubClient.get_dataset``).
        """
        if self._remote is not None:
            return self
        if self._hub_link is None:
            raise InvalidArtifactError(
                "this dataset was not loaded from the Hub, so it has no remote archive",
                hint="Load it with PolarisHubClient.get_dataset(owner, name, lazy=True).",
            )
        return self._hub_link.open(cache_chunks=cache_chunks)

    def load_to_memory(self) -> Any:
        """Read the whole Zarr archive into memory (a ``zarr.storage.MemoryStore``) and use that from now on.

        A remote archive is fetched straight into memory, every object verified, concurrently and without going
        through the disk. Returns ``self``.
        """
        import zarr
        from zarr.core.buffer import default_buffer_prototype
        from zarr.storage import MemoryStore

        buffer = default_buffer_prototype().buffer
        if self._remote is not None:
            objects = self._remote.store.fetch_many(self._remote.store.keys())
        else:
            location = getattr(self, "zarr_root_path", None)
            if location is None or is_remote_path(location):
                raise InvalidArtifactError("this dataset has no local or remote Zarr archive to load")
            root = _local_path(location)
            objects = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
        memory = MemoryStore({key: buffer.from_bytes(data) for key, data in objects.items()})
        self._zarr_root = zarr.open_group(store=memory, mode="r")
        return self

    def to_dask(self, column: str, *, client: Any = None) -> Any:
        """Column ``column`` as a lazy ``dask.array.Array`` (one Dask chunk per Zarr chunk).

        With a ``dask.distributed`` client (``client`` or the default one), the workers read their chunks straight
        from storage with short-lived, read-scoped storage credentials that this process keeps fresh; the Hub
        login never leaves this process. Needs the ``dask`` extra.
        """
        from polaris.integrations.dask import to_dask

        return to_dask(self, column, client=client)

    def to_xarray(self, *, client: Any = None) -> Any:
        """The dataset as an ``xarray.Dataset`` of Dask-backed variables (see :meth:`to_dask`)."""
        from polaris.integrations.xarray import to_xarray

        return to_xarray(self, client=client)


class DatasetV1(_DatasetBase):
    """A table (pandas DataFrame) plus metadata; pointer columns reference arrays in a Zarr archive.

    ``md5sum`` is computed from the table (and the local Zarr archive) on first access, or set from the Hub.

    Raises (on construction):
        pydantic.ValidationError: a rule of section 8 is broken; the message names the field.
    """

    table: Any = Field(default=None, exclude=True)
    zarr_root_path: str | None = None

    _md5sum: str | None = PrivateAttr(default=None)
    _zarr_manifest: list[checksum.ZarrFileEntry] = PrivateAttr(default_factory=list)
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
            digest, entries = checksum.zarr_tree_digest(_local_path(self.zarr_root_path))
            self._zarr_manifest = entries
            self._zarr_digest = digest
        return checksum.dataset_md5(self.table, digest)

    @property
    def zarr_manifest(self) -> list[checksum.ZarrFileEntry]:
        """Per-file manifest of the Zarr archive (filled when the checksum was computed locally)."""
        if (
            self.uses_zarr
            and not self._zarr_manifest
            and self.zarr_root_path
            and not is_remote_path(self.zarr_root_path)
        ):
            _, self._zarr_manifest = checksum.zarr_tree_digest(_local_path(self.zarr_root_path))
        return list(self._zarr_manifest)

    def verify_checksum(self, expected: str) -> None:
        """Recompute the checksum and compare with ``expected``.

        Raises:
            PolarisChecksumError: they differ.
        """
        checksum.verify_md5(expected, self.compute_md5sum(), artifact=self.artifact_id or self.name or "dataset")

    # -- data access ----------------------------------------------------------------------------------------------

    def get_data(self, row: int, col: str) -> Any:
        """The value at (row position, column); pointer cells are read from the Zarr archive.

        Raises:
            InvalidArtifactError: no table, or a pointer column without a usable Zarr archive.
            KeyError / IndexError: unknown column or row.
        """
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
        zarr_content: list[checksum.ZarrFileEntry] | None = None,
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
        if value is not None and not checksum.is_md5(value):
            raise ValueError(f"masked_md5sum must be 32 lowercase hex characters, got {value!r}")
        return value


class DatasetV2(_DatasetBase):
    """A dataset stored entirely in one Zarr archive (columns = top-level arrays/groups).

    Raises (on construction):
        pydantic.ValidationError: the local archive breaks the layout rule of section 6.6.
    """

    zarr_root_path: str

    _zarr_manifest_md5sum: str | None = PrivateAttr(default=None)
    _n_rows: int | None = PrivateAttr(default=None)
    _n_columns: int | None = PrivateAttr(default=None)

    @field_validator("zarr_root_path", mode="before")
    @classmethod
    def _zarr_path(cls, value: Any) -> Any:
        return None if value is None else str(value)

    @model_validator(mode="wrap")
    @classmethod
    def _hub_values(cls, data: Any, handler: Any) -> Any:
        md5 = n_rows = n_cols = None
        if isinstance(data, dict):
            md5 = data.get("zarrManifestMd5Sum", data.get("zarr_manifest_md5sum"))
            content = data.get("zarrManifestFileContent")
            if md5 is None and isinstance(content, dict):
                md5 = content.get("md5Sum")
            n_rows, n_cols = data.get("nRows", data.get("n_rows")), data.get("nColumns", data.get("n_columns"))
        obj = handler(data)
        if isinstance(obj, DatasetV2):
            if md5 is not None:
                obj.zarr_manifest_md5sum = md5
            if obj._n_rows is None:
                obj._n_rows = n_rows
                obj._n_columns = n_cols
        return obj

    @model_validator(mode="after")
    def _check(self) -> DatasetV2:
        if is_remote_path(self.zarr_root_path):
            return self
        path = _local_path(self.zarr_root_path)
        if not path.exists():
            return self
        import zarr

        try:
            root = zarr.open_group(str(path), mode="r")
        except Exception as exc:
            raise ValueError(f"zarr_root_path: {str(path)!r} is not a Zarr group ({exc})") from exc
        n_rows, kinds = _check_v2_layout(root)
        self._zarr_root = root
        self._n_rows = n_rows
        self._n_columns = len(kinds)
        unknown = sorted(set(self.annotations) - set(kinds))
        if unknown:
            raise ValueError(f"annotations: keys {unknown} are not top-level arrays or groups of the archive")
        unknown = sorted(set(self.default_adapters) - set(kinds))
        if unknown:
            raise ValueError(f"default_adapters: keys {unknown} are not top-level arrays or groups of the archive")
        for key, dtype in kinds.items():
            ann = self.annotations.get(key) or ColumnAnnotation()
            self.annotations[key] = ann.model_copy(update={"dtype": dtype})
        return self

    @property
    def columns(self) -> list[str]:
        return list(self.annotations)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_rows(self) -> int | None:
        return self._n_rows

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_columns(self) -> int | None:
        return self._n_columns if self._n_columns is not None else (len(self.annotations) or None)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def zarr_manifest_md5sum(self) -> str | None:
        """md5 of the manifest Parquet file (set by :meth:`write_manifest` or from the Hub)."""
        return self._zarr_manifest_md5sum

    @zarr_manifest_md5sum.setter
    def zarr_manifest_md5sum(self, value: str) -> None:
        self._zarr_manifest_md5sum = require_md5(value, "zarr_manifest_md5sum")

    def write_manifest(self, out_path: str | os.PathLike[str]) -> str:
        """Write the manifest Parquet of the local archive and remember its md5.

        Raises:
            InvalidArtifactError: the archive is remote.
            OSError: reading the archive or writing the manifest failed.
        """
        if is_remote_path(self.zarr_root_path):
            raise InvalidArtifactError("zarr_root_path: a manifest can only be written for a local archive")
        md5 = checksum.write_zarr_manifest(_local_path(self.zarr_root_path), out_path)
        self._zarr_manifest_md5sum = md5
        return md5

    def get_data(self, row: int, col: str) -> Any:
        """Row ``row`` of top-level array ``col``, or for a group the member named by its ``__index__[row]``.

        Raises:
            InvalidArtifactError: the archive cannot be opened here.
            KeyError / IndexError: unknown column or row.
        """
        import zarr

        node: Any = self.zarr_root[col]
        if isinstance(node, zarr.Group):
            member = cast(Any, node[V2_INDEX_ARRAY])[row]
            member_array: Any = node[str(member)]
            return member_array[:]
        return node[row]

    def check_uploadable(self) -> None:
        """Raise before anything is sent if the Hub would refuse this dataset.

        Raises:
            LicenseRequiredError: no license.
            InvalidArtifactError: no name/owner, or a remote archive.
        """
        if self.license is None:
            raise LicenseRequiredError(f"dataset {self.name!r} has no license; the Hub requires one")
        if not self.name:
            raise InvalidArtifactError("dataset.name is required to upload a dataset")
        if self.owner is None:
            raise InvalidArtifactError("dataset.owner is required to upload a dataset")
        if is_remote_path(self.zarr_root_path) or not _local_path(self.zarr_root_path).is_dir():
            raise InvalidArtifactError(f"zarr_root_path: {self.zarr_root_path!r} must be a local Zarr directory")

    def to_wire(self) -> dict[str, Any]:
        """The PUT ``/v2/dataset`` body (``zarrRootPath`` sent as the placeholder: the Hub ignores it)."""
        body = self.to_wire_base()
        out: dict[str, Any] = {}
        if self.zarr_manifest_md5sum is not None:
            out["zarrManifestFileContent"] = {"md5Sum": self.zarr_manifest_md5sum}
        out.update(body)
        if is_remote_path(self.zarr_root_path):
            out["zarrRootPath"] = self.zarr_root_path
        else:
            out["zarrRootPath"] = REMOTE_ZARR_PLACEHOLDER
        return out

    @classmethod
    def from_wire(cls, data: Any, **extra: Any) -> Any:
        """Build from a GET ``/v2/dataset`` response; pass the storage location as ``zarr_root_path=...``.

        Raises:
            pydantic.ValidationError: the data breaks a rule.
        """
        cleaned = {k: v for k, v in dict(data).items() if k not in ("zarrRootPath", "zarr_root_path")}
        if "zarr_root_path" not in extra:
            extra["zarr_root_path"] = data.get("zarrRootPath", data.get("zarr_root_path", REMOTE_ZARR_PLACEHOLDER))
        return super().from_wire(cleaned, **extra)


def _check_v2_layout(root: Any) -> tuple[int | None, dict[str, str]]:
    """Check section 6.6's layout; return (n_rows, {top-level key: dtype name}).

    Raises:
        ValueError: a group without a valid ``__index__``, or top-level lengths that differ.
    """
    import zarr

    lengths: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for key, node in sorted(root.members(), key=lambda kv: kv[0]):
        if isinstance(node, zarr.Group):
            members = {k for k, _ in node.members()} - {V2_INDEX_ARRAY}
            if V2_INDEX_ARRAY not in {k for k, _ in node.members()}:
                raise ValueError(f"zarr_root_path: group {key!r} has no {V2_INDEX_ARRAY} array")
            index_array: Any = node[V2_INDEX_ARRAY]
            index = [str(v) for v in np.asarray(index_array[:]).tolist()]
            if len(index) != len(members) or set(index) != members:
                raise ValueError(
                    f"zarr_root_path: {key}/{V2_INDEX_ARRAY} must list the group's {len(members)} members, "
                    f"got {len(index)} entries"
                )
            lengths[key] = len(index)
            kinds[key] = "object"
        else:
            lengths[key] = int(node.shape[0]) if node.shape else 0
            kinds[key] = str(node.dtype)
    if len(set(lengths.values())) > 1:
        raise ValueError(f"zarr_root_path: top-level arrays and group indices have different lengths {lengths}")
    n_rows = next(iter(lengths.values())) if lengths else None
    return n_rows, kinds

"""Column metadata of datasets: modalities, adapters, ``ColumnAnnotation``, and the Parquet-storability check.

Re-exported by :mod:`polaris.artifacts.dataset`; wire forms: Hub section 6.4.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator
from pydantic.alias_generators import to_camel

from polaris.errors import InvalidArtifactError

__all__ = ["Adapter", "ColumnAnnotation", "Modality", "check_parquet_storable", "refuse_adapters"]


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


def refuse_adapters(adapters: Any) -> None:
    """polaris-lib's ``get_data(row, col, adapters=...)`` converted values with RDKit; that is not provided here.

    Raises:
        InvalidArtifactError: ``adapters`` is given (not ``None``).
    """
    if adapters is not None:
        raise InvalidArtifactError(
            "get_data(adapters=...) (polaris-lib) is not provided by polaris-hub-client: values are returned as stored",
            hint="Convert the value yourself, e.g. rdkit.Chem.MolFromSmiles(dataset.get_data(row, col)).",
        )

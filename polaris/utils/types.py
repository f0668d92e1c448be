"""polaris-lib's ``polaris.utils.types``: the type names users annotate with and import (the same objects as
:mod:`polaris.types` where both exist).

Generations: ``HubOwner``, ``AccessType``, ``TargetType``, ``TaskType``, ``ChecksumStrategy``,
``ZarrConflictResolution``, ``TimeoutTypes``, ``SlugStringType``, ``SlugCompatibleStringType``, ``HttpUrlString``,
``HubUser``, ``ColumnName``, ``PredictionsType``, ``SplitType`` and ``SupportedLicenseType`` are 0.10 names kept by
0.11-0.13; ``IncomingPredictionsType`` and ``ArtifactUrn`` come from 0.11-0.13.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from polaris.types import (
    AccessType,
    ArtifactType,
    ChecksumStrategy,
    HubOwner,
    License,
    Slug,
    SlugCompatible,
    TargetType,
    TaskType,
    TimeoutTypes,
    ZarrConflictResolution,
)
from polaris.utils._not_provided import module_getattr

__all__ = [
    "AccessType",
    "ArtifactType",
    "ArtifactUrn",
    "ChecksumStrategy",
    "ColumnName",
    "DatasetIndex",
    "HttpUrlString",
    "HubOwner",
    "HubUser",
    "IncomingPredictionsType",
    "ListOrArrayType",
    "PredictionsType",
    "SlugCompatibleStringType",
    "SlugStringType",
    "SplitType",
    "SupportedLicenseType",
    "TargetType",
    "TaskType",
    "TimeoutTypes",
    "ZarrConflictResolution",
]

SlugStringType: TypeAlias = Slug
SlugCompatibleStringType: TypeAlias = SlugCompatible
#: an http(s) URL (checked by the models that hold one)
HttpUrlString: TypeAlias = str
#: a user's slug
HubUser: TypeAlias = SlugCompatible
ColumnName: TypeAlias = str
#: ``urn:polaris:<type>:<owner>:<slug>``
ArtifactUrn: TypeAlias = str
SupportedLicenseType: TypeAlias = License
#: a row position, or ``(row, column)``
DatasetIndex: TypeAlias = int | tuple[int, str]
ListOrArrayType: TypeAlias = list[Any] | Any
#: ``(train indices, test indices or {test set: indices})``
SplitType: TypeAlias = tuple[list[int], list[int] | dict[str, list[int]]]
#: predictions normalised to ``{test set: {target: values}}``
PredictionsType: TypeAlias = dict[str, dict[str, Any]]
#: any prediction shape ``benchmark.evaluate`` accepts (an array, ``{target: array}``, ``{test: {target: array}}``)
IncomingPredictionsType: TypeAlias = Any

__getattr__ = module_getattr(
    "polaris.utils.types",
    {
        "RDKitMol": "RDKit types are not used by polaris-hub-client; annotate with rdkit.Chem.Mol yourself",
        "AnyDataType": "use typing.Any",
    },
)

"""Small shared types and the Hub's naming rules (slugs, URNs, owners, licences)."""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

AccessType: TypeAlias = Literal["public", "private"]
ChecksumStrategy: TypeAlias = Literal["verify", "verify_unless_zarr", "ignore"]
ZarrConflictResolution: TypeAlias = Literal["raise", "replace", "skip"]
OwnerType: TypeAlias = Literal["user", "organization"]
TargetType: TypeAlias = Literal["regression", "classification", "docking"]
TaskType: TypeAlias = Literal["single_task", "multi_task"]
ArtifactType: TypeAlias = Literal[
    "dataset", "competitionDataset", "benchmark", "competition", "result", "competitionResult"
]
# (connect, read) seconds, or "timeout" (library default) / "never" (no timeout).
TimeoutTypes: TypeAlias = tuple[float, float] | Literal["timeout", "never"]

SUPPORTED_LICENSES: tuple[str, ...] = (
    "CC-BY-4.0",
    "CC-BY-SA-4.0",
    "CC-BY-NC-4.0",
    "CC-BY-NC-SA-4.0",
    "CC0-1.0",
    "MIT",
)
License: TypeAlias = Literal["CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "CC-BY-NC-SA-4.0", "CC0-1.0", "MIT"]

SLUG_PATTERN = r"^[a-z0-9-]+$"
SLUG_COMPATIBLE_PATTERN = r"^[A-Za-z0-9_-]+$"
MD5_PATTERN = r"^[a-f0-9]{32}$"

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=4, max_length=64)]
SlugCompatible = Annotated[str, StringConstraints(pattern=SLUG_COMPATIBLE_PATTERN, min_length=4, max_length=64)]
Md5 = Annotated[str, StringConstraints(pattern=MD5_PATTERN)]

_SLUG_RE = re.compile(SLUG_PATTERN)
_SLUG_COMPATIBLE_RE = re.compile(SLUG_COMPATIBLE_PATTERN)


def slugify(name: str) -> str:
    """The Hub's slug of an artifact or owner name: lower case, ``_`` -> ``-``, no leading/trailing ``-``."""
    return name.lower().replace("_", "-").strip("-")


def is_slug(value: str) -> bool:
    return 4 <= len(value) <= 64 and bool(_SLUG_RE.match(value))


def is_slug_compatible(value: str) -> bool:
    return 4 <= len(value) <= 64 and bool(_SLUG_COMPATIBLE_RE.match(value))


def artifact_urn(artifact_type: str, owner: str, name: str) -> str:
    """``urn:polaris:<type>:<owner>:<slug>``; the owner is used as given, the name is slugified."""
    return f"urn:polaris:{artifact_type}:{owner}:{slugify(name)}"


def split_artifact_id(artifact_id: str) -> tuple[str, str]:
    """Split ``"owner/name"`` into its two parts, with a clear error for anything else."""
    parts = artifact_id.strip("/").split("/")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"expected 'owner/name', got {artifact_id!r}")
    return parts[0], parts[1]


class HubOwner(BaseModel):
    """The owner of an artifact: a user or an organization, identified by its slug."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    slug: Slug
    external_id: str | None = None
    type: OwnerType | None = None

    @classmethod
    def normalize(cls, owner: str | HubOwner | dict[str, object]) -> HubOwner:
        if isinstance(owner, HubOwner):
            return owner
        if isinstance(owner, str):
            return cls(slug=owner)
        return cls.model_validate(owner)

    def __str__(self) -> str:
        return self.slug


OwnerField = Annotated[HubOwner, Field(description="owner slug or object")]

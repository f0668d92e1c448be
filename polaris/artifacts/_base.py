"""Fields every Hub artifact shares (Hub section 6.3) and the wire conventions (section 6.1)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    computed_field,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from polaris import checksum_md5
from polaris.errors import InvalidArtifactError
from polaris.types import HubOwner, SlugCompatible, artifact_urn, is_slug, slugify

__all__ = [
    "PEP440_PATTERN",
    "BaseArtifactModel",
    "VersionedArtifactModel",
    "clean_json",
    "html_fields",
    "package_version",
    "require_md5",
    "url_fields",
    "validate_http_url",
]

#: PEP 440 version (public + local), case-insensitive; written from the grammar in the PEP.
PEP440_PATTERN = re.compile(
    r"""^\s*v?
    (?:(?:[0-9]+)!)?                                   # epoch
    [0-9]+(?:\.[0-9]+)*                                # release
    (?:[-_\.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_\.]?[0-9]*)?     # pre-release
    (?:-[0-9]+|[-_\.]?(?:post|rev|r)[-_\.]?[0-9]*)?    # post-release
    (?:[-_\.]?dev[-_\.]?[0-9]*)?                       # dev release
    (?:\+[a-z0-9]+(?:[-_\.][a-z0-9]+)*)?               # local version
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_DIST_NAME = "polaris-hub-client"


@lru_cache(maxsize=1)
def package_version() -> str:
    """This package's version, or ``"dev"`` when it is not installed as a distribution."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(_DIST_NAME)
    except PackageNotFoundError:
        return "dev"


def validate_http_url(value: str | None, field: str) -> str | None:
    """Accept ``None`` or an http(s) URL.

    Raises:
        ValueError: anything else (the message names ``field``).
    """
    if value is None:
        return None
    text = str(value)
    if not _URL_RE.match(text):
        raise ValueError(f"{field} must be an http(s) URL, got {text!r}")
    return text


def _check_url_field(cls: type, value: str | None, info: ValidationInfo) -> str | None:
    return validate_http_url(value, info.field_name or "url")


def url_fields(*fields: str) -> Any:
    """A pydantic validator accepting ``None`` or an http(s) URL for each named field (errors name the field)."""
    return field_validator(*fields)(_check_url_field)


def require_md5(value: str, field: str) -> str:
    """``value`` if it is 32 lowercase hex characters.

    Raises:
        InvalidArtifactError: anything else (the message names ``field``).
    """
    if not checksum_md5.is_md5(value):
        raise InvalidArtifactError(f"{field} must be 32 lowercase hex characters, got {value!r}")
    return value


def clean_json(value: Any) -> Any:
    """Recursively replace NaN/inf floats by ``None`` and numpy scalars/arrays by Python values (JSON-safe)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if tolist is not None and type(value).__module__ == "numpy":
        return clean_json(tolist())
    return value


def html_fields(title: str, fields: Mapping[str, Any], *, extra_html: str = "") -> str:
    """A small HTML card (title + field table) for notebooks; every value is escaped."""
    import html

    def show(value: Any) -> str:
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        return html.escape("" if value is None else str(value))

    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(str(k))}</th><td style='text-align:left'>"
        f"{show(v)}</td></tr>"
        for k, v in fields.items()
    )
    return f"<div class='polaris-artifact'><strong>{html.escape(title)}</strong><table>{rows}</table>{extra_html}</div>"


class BaseArtifactModel(BaseModel):
    """Base of every artifact: name, description, tags, user attributes, owner, polaris version.

    On the wire keys are camelCase (either style accepted on input, unknown keys ignored), ``owner`` is the slug
    string, and the computed ``slug``/``artifactId``/``urn`` are included.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        arbitrary_types_allowed=True,
        protected_namespaces=(),
    )

    artifact_type: ClassVar[str] = "artifact"

    name: SlugCompatible | None = None
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    user_attributes: dict[str, str] = Field(default_factory=dict)
    owner: HubOwner | None = None
    polaris_version: str = Field(default_factory=package_version)

    #: the slug the Hub reported, when it is not the name's
    _hub_slug: str | None = PrivateAttr(default=None)

    @field_validator("owner", mode="before")
    @classmethod
    def _owner(cls, value: Any) -> Any:
        if value is None or isinstance(value, HubOwner):
            return value
        if isinstance(value, str):
            return HubOwner(slug=value)
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _hub_slug_value(cls, data: Any, handler: Any) -> Any:
        """Keep the slug the Hub reports when it is not the name's (a 0.12 new version is ``<slug>-v<N>``)."""
        slug = data.get("slug") if isinstance(data, Mapping) else None
        obj = handler(data)
        named = isinstance(obj, BaseArtifactModel) and bool(obj.name)
        if named and isinstance(slug, str) and is_slug(slug) and slug != slugify(obj.name or ""):
            obj._hub_slug = slug
        return obj

    @field_validator("polaris_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value != "dev" and not PEP440_PATTERN.match(value):
            raise ValueError(f"polaris_version must be 'dev' or a PEP 440 version, got {value!r}")
        return value

    @field_serializer("owner")
    def _owner_out(self, owner: HubOwner | None) -> str | None:
        return owner.slug if owner is not None else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def slug(self) -> str | None:
        """The name's slug, or the one the Hub gave this artifact (a new version's slug is the Hub's choice)."""
        if not self.name:
            return None
        return self._hub_slug or slugify(self.name)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def artifact_id(self) -> str | None:
        if self.owner is None or not self.name:
            return None
        return f"{self.owner.slug}/{self.slug}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def urn(self) -> str | None:
        if self.owner is None or not self.name:
            return None
        return artifact_urn(self.artifact_type, self.owner.slug, self.slug or self.name)

    # -- wire -----------------------------------------------------------------------------------------------------

    def to_wire_base(self) -> dict[str, Any]:
        """All fields the model serialises: camelCase, nulls dropped, NaN -> null, owner as slug."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return dict(clean_json(data))

    def to_wire(self) -> dict[str, Any]:
        """The JSON body the Hub expects (camelCase, nulls dropped, NaN -> null)."""
        return self.to_wire_base()

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], **extra: Any) -> Self:
        """Build from a Hub response (camelCase or snake_case keys; ``extra`` overrides).

        Raises:
            pydantic.ValidationError: the data breaks a rule (the error names the field).
        """
        merged = dict(data)
        for key in extra:
            merged.pop(key, None)
            merged.pop(to_camel(key), None)
        merged.update(extra)
        return cls.model_validate(merged)


class VersionedArtifactModel(BaseArtifactModel):
    """An artifact the Hub keeps versions of (datasets, benchmarks, models; protocol 0.12).

    ``artifact_version`` is what the Hub reports (kept on what is read, never sent for datasets and benchmarks);
    ``artifact_changelog`` and ``parent_artifact_id`` (``owner/slug`` of the previous version) make an upload a new
    version. None of the three is part of :meth:`to_wire_base`: the upload flows add :meth:`versioning_wire` only
    where the Hub in front of them speaks versions.
    """

    artifact_version: int | None = Field(default=None, exclude=True)
    artifact_changelog: str | None = Field(default=None, exclude=True)
    parent_artifact_id: str | None = Field(default=None, exclude=True)

    @field_validator("parent_artifact_id")
    @classmethod
    def _parent(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.strip("/").split("/")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"parent_artifact_id must be 'owner/slug', got {value!r}")
        return f"{parts[0]}/{slugify(parts[1])}"

    @property
    def is_new_version(self) -> bool:
        """Whether uploading this makes a new version of ``parent_artifact_id``."""
        return self.parent_artifact_id is not None

    def versioning_wire(self) -> dict[str, Any]:
        """The 0.12 versioning keys of an upload body: ``parentArtifactId`` (null for a first version) and
        ``artifactChangelog`` when set."""
        out: dict[str, Any] = {"parentArtifactId": self.parent_artifact_id}
        if self.artifact_changelog is not None:
            out["artifactChangelog"] = self.artifact_changelog
        return out

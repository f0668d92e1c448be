"""Models: metadata about the method behind a submission (0.11-0.13 facts, section 7). No storage objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import computed_field, model_validator

from polaris.artifacts._base import VersionedArtifactModel, url_fields
from polaris.artifacts._hub_calls import hub_client, sort_upload_args
from polaris.errors import InvalidArtifactError
from polaris.types import AccessType, HubOwner

__all__ = ["Model"]


class Model(VersionedArtifactModel):
    """A model: name, description, tags, readme and links to its code and report.

    Results can name it (``BenchmarkResults.model_artifact_id``). ``artifact_version`` is the Hub's version
    number (1 for a first upload); ``parent_artifact_id`` + ``artifact_changelog`` make an upload a new version.

    Raises (on construction):
        pydantic.ValidationError: invalid name, owner or URL (the message names the field).
    """

    artifact_type = "model"

    readme: str = ""
    code_url: str | None = None
    report_url: str | None = None
    access: AccessType = "private"

    _urls = url_fields("code_url", "report_url")

    @model_validator(mode="before")
    @classmethod
    def _no_file(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("file_path", data.get("filePath")) is not None:
            raise ValueError(
                "file_path: polaris-hub-client keeps model metadata only (no ONNX file); publish the weights "
                "elsewhere and link them with code_url/report_url"
            )
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def version(self) -> int:
        """The artifact generation (always 1 for models)."""
        return 1

    def upload_to_hub(
        self,
        access: AccessType | str = "private",
        owner: str | HubOwner | None = None,
        *,
        parent_artifact_id: str | None = None,
        settings: Any = None,
        cache_auth_token: bool = True,
        **client_kwargs: Any,
    ) -> dict[str, Any]:
        """Upload this model card with a client opened for the call (polaris-lib 0.11-0.13's
        ``model.upload_to_hub(access, owner, parent_artifact_id)``); see
        :meth:`~polaris.hub.client.PolarisHubClient.upload_model`. Returns the Hub's JSON answer."""
        settings, access, owner = sort_upload_args(settings, access, owner)
        with hub_client(settings, cache_auth_token, **client_kwargs) as client:
            answer: dict[str, Any] = client.upload_model(
                self, access=access, owner=owner, parent_artifact_id=parent_artifact_id
            )
            return answer

    def check_uploadable(self) -> None:
        """Raise before anything is sent if the Hub would refuse this model.

        Raises:
            InvalidArtifactError: no name or owner.
        """
        if not self.name:
            raise InvalidArtifactError("model.name is required to upload a model")
        if self.owner is None:
            raise InvalidArtifactError("model.owner is required to upload a model")

    def to_wire(self) -> dict[str, Any]:
        """The model upload body (section 7): camelCase, ``artifactVersion`` always, ``artifactChangelog`` when
        set; ``access`` and ``parentArtifactId`` are added by the upload flow for the Hub generation in front."""
        body = self.to_wire_base()
        body.pop("access", None)
        body["artifactVersion"] = self.artifact_version if self.artifact_version is not None else 1
        if self.artifact_changelog is not None:
            body["artifactChangelog"] = self.artifact_changelog
        return body

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], **extra: Any) -> Any:
        """Parse ``GET /v2/model/{owner}/{slug}`` (camelCase or snake_case; ``codeUrl``/``code_url`` etc.).

        Raises:
            pydantic.ValidationError: the data breaks a rule.
        """
        cleaned = {k: v for k, v in dict(data).items() if k != "version"}
        return super().from_wire(cleaned, **extra)

"""What ``DatasetV1`` and ``DatasetV2`` share: the common fields, notebook card, Zarr root, lazy remote access.

Re-exported by :mod:`polaris.artifacts.dataset`.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, PrivateAttr, field_serializer, field_validator

from polaris.artifacts._base import VersionedArtifactModel, html_fields, url_fields
from polaris.artifacts._dataset_columns import Adapter, ColumnAnnotation, _enum_by_name
from polaris.artifacts._dataset_paths import _local_path, is_remote_path
from polaris.artifacts._hub_calls import hub_client, sort_upload_args
from polaris.errors import InvalidArtifactError
from polaris.types import SUPPORTED_LICENSES, AccessType, HubOwner, License, ZarrConflictResolution

__all__ = ["REMOTE_ZARR_PLACEHOLDER"]

#: The ``zarrRootPath`` the Hub expects in a V1 dataset PUT body when the dataset has pointer columns.
REMOTE_ZARR_PLACEHOLDER = "polarisfs://data.zarr"


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
        from polaris.artifacts._dataset_v2 import DatasetV2

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

    # -- what polaris-lib users call -------------------------------------------------------------------------------

    def __len__(self) -> int:
        """The number of rows (0 when not known)."""
        return int(getattr(self, "n_rows", None) or 0)

    def __bool__(self) -> bool:
        return True  # a dataset is never falsy, even with 0 rows (``__len__`` would make it so)

    def size(self) -> tuple[int | None, int | None]:
        """``(rows, columns)``, as polaris-lib's ``dataset.size()``."""
        return getattr(self, "n_rows", None), getattr(self, "n_columns", None)

    def upload_to_hub(
        self,
        access: AccessType | str | HubOwner = "private",
        owner: str | HubOwner | None = None,
        if_exists: ZarrConflictResolution = "replace",
        *,
        parent_artifact_id: str | None = None,
        settings: Any = None,
        cache_auth_token: bool = True,
        **client_kwargs: Any,
    ) -> dict[str, Any]:
        """Upload this dataset with a :class:`~polaris.hub.client.PolarisHubClient` opened for the call (logging in
        when no login is cached); see :meth:`~polaris.hub.client.PolarisHubClient.upload_dataset`.

        Accepts polaris-lib 0.10's ``upload_to_hub(access, owner, if_exists)`` and 0.12's
        ``upload_to_hub(owner, parent_artifact_id=...)``. Returns the Hub's JSON answer.

        Raises: see :meth:`~polaris.hub.client.PolarisHubClient.upload_dataset`.
        """
        settings, access, owner = sort_upload_args(settings, access, owner)
        with hub_client(settings, cache_auth_token, **client_kwargs) as client:
            answer: dict[str, Any] = client.upload_dataset(
                self, access=access, owner=owner, if_exists=if_exists, parent_artifact_id=parent_artifact_id
            )
            return answer

    def to_json(
        self,
        destination: str | os.PathLike[str],
        if_exists: ZarrConflictResolution = "replace",
        dir_name: str | None = None,
    ) -> str:
        """Save the dataset in ``destination/<dir_name or slug>/``: ``dataset.json``, the table as
        ``table.parquet`` and a local Zarr archive copied to ``data.zarr``. Returns the JSON file's path; read it
        back with :meth:`from_json` (or ``polaris.load_dataset(path)``).

        Raises:
            ArtifactExistsError: ``if_exists="raise"`` and the folder exists.
            InvalidArtifactError: the Zarr archive is in the Hub's storage (a lazily opened dataset).
        """
        import json
        import shutil
        from pathlib import Path

        from polaris.errors import ArtifactExistsError

        folder = Path(destination) / (dir_name or self.slug or "dataset")
        if folder.exists():
            if if_exists == "raise":
                raise ArtifactExistsError(f"{folder} exists", hint="Pass if_exists='replace' to overwrite it.")
            if if_exists == "replace":
                shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        data = self.model_dump(mode="json")
        table = getattr(self, "table", None)
        if table is not None:
            table.to_parquet(folder / "table.parquet")
            data["table"] = "table.parquet"
        zarr_path = getattr(self, "zarr_root_path", None)
        if zarr_path is not None:
            if is_remote_path(zarr_path):
                raise InvalidArtifactError(
                    f"the Zarr archive {zarr_path!r} is remote; download the dataset before saving it as JSON"
                )
            target = folder / "data.zarr"
            if not target.exists():
                shutil.copytree(_local_path(zarr_path), target)
            data["zarr_root_path"] = "data.zarr"
        path = folder / "dataset.json"
        path.write_text(json.dumps(data, indent=2))
        return str(path)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Any:
        """Read a dataset saved by :meth:`to_json` (relative table and Zarr paths are resolved next to the file).

        Raises:
            FileNotFoundError: no such file. pydantic.ValidationError: the file breaks a rule.
        """
        import json
        from pathlib import Path

        file = Path(path)
        data = json.loads(file.read_text())
        for key in ("table", "zarr_root_path"):
            value = data.get(key)
            if isinstance(value, str) and not is_remote_path(value) and not Path(value).is_absolute():
                data[key] = str(file.parent / value)
        return cls.model_validate(data)

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

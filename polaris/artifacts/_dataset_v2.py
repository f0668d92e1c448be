"""``DatasetV2``: a dataset stored entirely in one Zarr archive, and the check of that archive's layout.

Re-exported by :mod:`polaris.artifacts.dataset`; wire forms: Hub section 6.6; checksums: :mod:`polaris.checksum`.
"""

from __future__ import annotations

import os
from typing import Any, cast

import numpy as np
from pydantic import PrivateAttr, ValidationInfo, computed_field, field_validator, model_validator

from polaris import checksum_zarr
from polaris.artifacts._base import require_md5
from polaris.artifacts._dataset_base import REMOTE_ZARR_PLACEHOLDER, _DatasetBase
from polaris.artifacts._dataset_columns import ColumnAnnotation, refuse_adapters
from polaris.artifacts._dataset_paths import _local_path, is_remote_path
from polaris.errors import InvalidArtifactError, LicenseRequiredError

__all__ = ["V2_INDEX_ARRAY", "DatasetV2"]

#: Name of the array inside each top-level group of a V2 archive that lists the group's members.
V2_INDEX_ARRAY = "__index__"


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
            elif isinstance(n_rows, int) and not isinstance(n_rows, bool):
                from polaris.limits import check_equal

                check_equal("the archive's row count", obj._n_rows, n_rows, by="the dataset's nRows")
        return obj

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> DatasetV2:
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
        context = info.context if isinstance(info.context, dict) else {}
        n_rows, kinds = _check_v2_layout(root, max_bytes=context.get("max_declared_bytes"))
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
        md5 = checksum_zarr.write_zarr_manifest(_local_path(self.zarr_root_path), out_path)
        self._zarr_manifest_md5sum = md5
        return md5

    def get_data(self, row: int, col: str, adapters: Any = None) -> Any:
        """Row ``row`` of top-level array ``col``, or for a group the member named by its ``__index__[row]``.

        Raises:
            InvalidArtifactError: the archive cannot be opened here.
            KeyError / IndexError: unknown column or row.
        """
        refuse_adapters(adapters)
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
    def from_wire(cls, data: Any, *, max_declared_bytes: int | None = None, **extra: Any) -> Any:
        """Build from a GET ``/v2/dataset`` response; pass the storage location as ``zarr_root_path=...``.

        ``max_declared_bytes``: the ceiling the local archive's chunk grids and ``__index__`` are checked against
        (default: :data:`polaris.limits.DEFAULT_MAX_DECLARED_BYTES`).

        Raises:
            pydantic.ValidationError: the data breaks a rule.
            DeclaredSizeError: the archive declares a size beyond what it holds or beyond the ceiling.
        """
        cleaned = {k: v for k, v in dict(data).items() if k not in ("zarrRootPath", "zarr_root_path")}
        if "zarr_root_path" not in extra:
            extra["zarr_root_path"] = data.get("zarrRootPath", data.get("zarr_root_path", REMOTE_ZARR_PLACEHOLDER))
        if max_declared_bytes is None:
            return super().from_wire(cleaned, **extra)
        from pydantic.alias_generators import to_camel

        merged = dict(cleaned)
        for key in extra:  # as the base class's from_wire: a keyword wins over either spelling in the answer
            merged.pop(key, None)
            merged.pop(to_camel(key), None)
        merged.update(extra)
        return cls.model_validate(merged, context={"max_declared_bytes": max_declared_bytes})


def _array_limits(path: str, node: Any, max_bytes: int | None, artifact: str | None) -> None:
    """Refuse an array whose one chunk (or shard) would be larger than the ceiling once decoded.

    Zarr decodes a whole chunk to read one element of it: a declared chunk grid of ``[2e9]`` is a 16 GB
    allocation for a single row, whatever the array's shape.
    """
    from polaris.limits import check_declared

    itemsize = max(1, int(getattr(node.dtype, "itemsize", 0) or 8))
    for label in ("shards", "chunks"):
        try:
            grid = getattr(node, label, None)
        except Exception:  # zarr raises for irregular grids / unsharded arrays on some versions
            grid = None
        if not grid:
            continue
        elements = 1
        for n in grid:
            elements *= max(0, int(n))
        check_declared(f"{path} {label[:-1]} of {list(grid)}", elements, max_bytes=max_bytes, item_bytes=itemsize,
                       artifact=artifact)  # fmt: skip


def _check_array_limits(root: Any, *, max_bytes: int | None = None, artifact: str | None = None) -> None:
    """Apply :func:`_array_limits` to every array under ``root`` (any depth): the bound a V1 archive gets.

    A V1 dataset's archive has no layout of its own to check (pointer columns name arbitrary arrays), but each of
    its chunks is decoded whole on read, so each must fit the ``max_declared_bytes`` ceiling as in a V2 archive.

    Raises:
        DeclaredSizeError: a chunk (or shard) beyond the ceiling once decoded.
    """
    import zarr

    for key, node in sorted(root.members(max_depth=None), key=lambda kv: kv[0]):
        if isinstance(node, zarr.Array):
            _array_limits(key, node, max_bytes, artifact)


def _check_v2_layout(
    root: Any, *, n_rows: int | None = None, max_bytes: int | None = None, artifact: str | None = None
) -> tuple[int | None, dict[str, str]]:
    """Check section 6.6's layout; return (n_rows, {top-level key: dtype name}).

    Every declared size is checked before anything is read: a group's ``__index__`` must be one-dimensional and
    exactly as long as the group has members, every top-level length must equal ``n_rows`` (the Hub's ``nRows``,
    when given) and every chunk must fit the ``max_declared_bytes`` ceiling.

    Raises:
        ValueError: a group without a valid ``__index__``, or top-level lengths that differ.
        DeclaredSizeError: a shape, an ``__index__`` length or a chunk grid beyond what the archive itself declares
            (its members, ``n_rows``) or beyond the ceiling.
    """
    import zarr

    from polaris.limits import check_declared, check_equal

    lengths: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for key, node in sorted(root.members(), key=lambda kv: kv[0]):
        if isinstance(node, zarr.Group):
            names = {k for k, _ in node.members()}
            members = names - {V2_INDEX_ARRAY}
            if V2_INDEX_ARRAY not in names:
                raise ValueError(f"zarr_root_path: group {key!r} has no {V2_INDEX_ARRAY} array")
            index_array: Any = node[V2_INDEX_ARRAY]
            if not isinstance(index_array, zarr.Array) or len(index_array.shape) != 1:
                raise ValueError(f"zarr_root_path: {key}/{V2_INDEX_ARRAY} must be a one-dimensional array")
            field = f"{key}/{V2_INDEX_ARRAY} length"
            declared = int(index_array.shape[0])
            check_equal(field, declared, len(members), by=f"the {len(members)} members of group {key!r}",
                        artifact=artifact)  # fmt: skip
            if n_rows is not None:
                check_equal(field, declared, n_rows, by="the dataset's nRows", artifact=artifact)
            check_declared(field, declared, max_bytes=max_bytes, item_bytes=max(1, index_array.dtype.itemsize or 8),
                           artifact=artifact)  # fmt: skip
            _array_limits(f"{key}/{V2_INDEX_ARRAY}", index_array, max_bytes, artifact)
            index = [str(v) for v in np.asarray(index_array[:]).tolist()]
            if len(index) != len(members) or set(index) != members:
                raise ValueError(
                    f"zarr_root_path: {key}/{V2_INDEX_ARRAY} must list the group's {len(members)} members, "
                    f"got {len(index)} entries"
                )
            lengths[key] = len(index)
            kinds[key] = "object"
        else:
            length = int(node.shape[0]) if node.shape else 0
            if n_rows is not None:
                check_equal(f"{key} shape[0]", length, n_rows, by="the dataset's nRows", artifact=artifact)
            _array_limits(key, node, max_bytes, artifact)
            lengths[key] = length
            kinds[key] = str(node.dtype)
    if len(set(lengths.values())) > 1:
        raise ValueError(f"zarr_root_path: top-level arrays and group indices have different lengths {lengths}")
    found_rows = next(iter(lengths.values())) if lengths else None
    return found_rows, kinds

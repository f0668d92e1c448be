"""Zarr archive checksums: manifest keys and md5s checked as data, the DANDI-style tree digest, the V2 manifest Parquet.

* :func:`manifest_key` / :func:`require_manifest_md5` / :func:`manifest_from_wire` — a manifest's keys and md5s
  validated (plain relative paths, 32 hex digits, no duplicates or aliases) before anything is read from it.
* :func:`zarr_tree_digest` — the ``"<md5>-<count>-<size>"`` digest of a Zarr directory plus its per-file manifest.
* :func:`write_zarr_manifest` / :func:`read_zarr_manifest` — the DatasetV2 manifest Parquet file.

The documented names are re-exported by :mod:`polaris.checksum`. pyarrow is imported inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polaris.checksum_md5 import file_md5
from polaris.errors import InvalidArtifactError

__all__ = [
    "MANIFEST_ROW_GROUP_SIZE",
    "ZarrFileEntry",
    "manifest_from_wire",
    "manifest_key",
    "read_zarr_manifest",
    "require_manifest_md5",
    "write_zarr_manifest",
    "write_zarr_manifest_entries",
    "zarr_manifest_entries",
    "zarr_tree_digest",
    "zarr_tree_digest_from_entries",
]

#: Rows per row group of the V2 manifest Parquet (the reference client's value: effectively one row group).
MANIFEST_ROW_GROUP_SIZE = 134_217_728

_MD5_RE_LEN = 32

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def manifest_key(key: object, *, source: str = "the manifest") -> str:
    """A manifest key as data, never as a path: returned unchanged when it is a plain relative ``/`` path.

    Refused: anything but a non-empty ``str``; an absolute path; a backslash; a NUL (or any control character); an
    empty segment (``a//b``, a leading or trailing ``/``); a ``.`` or ``..`` segment. What is left names exactly
    one file under the archive root and has exactly one spelling, so no two keys can alias one file.

    Raises:
        InvalidArtifactError: the key is not such a path (the message names it).
    """
    if not isinstance(key, str) or not key:
        raise InvalidArtifactError(f"{source}: key {key!r} is not a non-empty string")
    problem = None
    if key.startswith("/"):
        problem = "is an absolute path"
    elif "\\" in key:
        problem = "holds a backslash"
    elif any(ord(c) < 32 or ord(c) == 127 for c in key):
        problem = "holds a NUL or control character"
    else:
        for part in key.split("/"):
            if part == "":
                problem = "holds an empty segment"
            elif part in (".", ".."):
                problem = f"holds a {part!r} segment"
            if problem:
                break
    if problem:
        raise InvalidArtifactError(
            f"{source}: key {key[:200]!r} {problem}; manifest keys must be plain relative paths",
            hint="The artifact's manifest is damaged or hostile; nothing was read from it.",
        )
    return key


def require_manifest_md5(value: object, *, key: str, source: str = "the manifest") -> str:
    """The md5 of a manifest entry, lowercased, when it is exactly 32 hex digits.

    Raises:
        InvalidArtifactError: anything else (a path, a shorter or longer string, a non-string).
    """
    if not isinstance(value, str) or len(value) != _MD5_RE_LEN or not set(value) <= _HEX_DIGITS:
        shown = value[:80] if isinstance(value, str) else value
        raise InvalidArtifactError(
            f"{source}: the md5 of {key[:200]!r} is {shown!r}, not 32 hex digits",
            hint="The artifact's manifest is damaged or hostile; nothing was read from it.",
        )
    return value.lower()


def _checked_manifest(pairs: Iterable[tuple[object, object]], source: str) -> dict[str, str]:
    """``{key: md5}`` from ``(key, md5)`` pairs, each key and md5 checked, duplicates and aliases refused."""
    out: dict[str, str] = {}
    folded: dict[str, str] = {}
    for raw_key, raw_md5 in pairs:
        key = manifest_key(raw_key, source=source)
        md5 = require_manifest_md5(raw_md5, key=key, source=source)
        if key in out:
            raise InvalidArtifactError(
                f"{source}: key {key[:200]!r} is listed twice",
                hint="The artifact's manifest is damaged or hostile; nothing was read from it.",
            )
        # Keys that would name one file on a case-insensitive or Unicode-normalising file system are aliases.
        import unicodedata

        fold = unicodedata.normalize("NFC", key).casefold()
        other = folded.get(fold)
        if other is not None:
            raise InvalidArtifactError(
                f"{source}: key {key[:200]!r} is an alias of {other[:200]!r}",
                hint="The artifact's manifest is damaged or hostile; nothing was read from it.",
            )
        folded[fold] = key
        out[key] = md5
    return out


def manifest_from_wire(entries: object, *, source: str = "zarrContent") -> dict[str, str] | None:
    """``{key: md5}`` of a V1 ``zarrContent`` list (``None`` when empty), every entry checked as in
    :func:`manifest_key` / :func:`require_manifest_md5`, duplicates and aliases refused.

    Raises:
        InvalidArtifactError: not a list of ``{path, md5sum}`` objects, or an entry is refused.
    """
    if not entries:
        return None
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise InvalidArtifactError(f"{source}: expected a list of {{path, md5sum, size}} objects")
    return _checked_manifest(((e.get("path"), e.get("md5sum", e.get("md5Sum"))) for e in entries), source)


def manifest_sizes_from_wire(entries: object, *, source: str = "zarrContent") -> dict[str, int]:
    """``{key: size}`` of the V1 ``zarrContent`` entries that declare a ``size`` (the others are left out).

    Call after :func:`manifest_from_wire` accepted ``entries`` (keys are normalised the same way).

    Raises:
        InvalidArtifactError: a declared size that is not a non-negative integer.
    """
    out: dict[str, int] = {}
    if not entries or not isinstance(entries, list):
        return out
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("size") is None:
            continue
        key = manifest_key(entry.get("path"), source=source)
        size = entry["size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidArtifactError(
                f"{source}: the size of {key[:200]!r} is {str(size)[:40]!r}, not a byte count",
                hint="The artifact's manifest is damaged or hostile; nothing was read from it.",
            )
        out[key] = size
    return out


@dataclass(frozen=True)
class ZarrFileEntry:
    """One file of a Zarr archive: path relative to the root (``/`` separated), md5 hex, size in bytes."""

    path: str
    md5sum: str
    size: int

    def to_wire(self, *, camel: bool = False) -> dict[str, Any]:
        """``{path, md5sum, size}`` (``zarrContent``) or ``{path, md5Sum, size}`` (``zarrMd5SumManifest``)."""
        return {"path": self.path, ("md5Sum" if camel else "md5sum"): self.md5sum, "size": self.size}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ZarrFileEntry:
        """Accept either spelling of the checksum key."""
        md5 = data.get("md5sum", data.get("md5Sum", data.get("md5_checksum")))
        return cls(path=str(data["path"]), md5sum=str(md5), size=int(data.get("size", 0)))


@dataclass
class _Dir:
    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    dirs: dict[str, _Dir] = field(default_factory=dict)


def _digest_dir(node: _Dir) -> tuple[str, int, int]:
    """``(digest string, count, size)`` of a directory; ``count`` is 0 for a directory without files."""
    directories: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    count = 0
    size = 0
    for name in sorted(node.dirs):
        sub_digest, sub_count, sub_size = _digest_dir(node.dirs[name])
        if sub_count == 0:
            continue  # directories without files at any depth are ignored
        directories.append({"digest": sub_digest, "name": name, "size": sub_size, "count": sub_count})
        count += sub_count
        size += sub_size
    for name in sorted(node.files):
        digest, fsize = node.files[name]
        files.append({"digest": digest, "name": name, "size": fsize, "count": 0})
        count += 1
        size += fsize
    text = json.dumps({"directories": directories, "files": files}, separators=(",", ":"))
    md5 = hashlib.md5(text.encode("utf-8")).hexdigest()
    return f"{md5}-{count}-{size}", count, size


def zarr_tree_digest_from_entries(entries: Iterable[ZarrFileEntry | tuple[str, str, int]]) -> str:
    """The ``"<md5>-<count>-<size>"`` digest of a tree given as ``(relative path, md5, size)`` entries.

    Raises:
        ValueError: an empty or absolute path, or a path that is both a file and a directory.
    """
    root = _Dir()
    for entry in entries:
        path, md5, size = (entry.path, entry.md5sum, entry.size) if isinstance(entry, ZarrFileEntry) else entry
        parts = manifest_key(path, source="Zarr manifest").split("/")
        node = root
        for part in parts[:-1]:
            if part in node.files:
                raise ValueError(f"{path!r}: {part!r} is both a file and a directory")
            node = node.dirs.setdefault(part, _Dir())
        if parts[-1] in node.dirs:
            raise ValueError(f"{path!r} is both a file and a directory")
        if parts[-1] in node.files:
            raise InvalidArtifactError(f"Zarr manifest: key {path!r} is listed twice")
        node.files[parts[-1]] = (md5, int(size))
    digest, _, _ = _digest_dir(root)
    return digest


def zarr_manifest_entries(root: str | os.PathLike[str]) -> list[ZarrFileEntry]:
    """Every regular file under ``root`` (hidden files included), sorted by relative ``/`` path.

    Raises:
        FileNotFoundError: ``root`` is not a directory.
        OSError: a file cannot be read.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise FileNotFoundError(f"Zarr root {str(root_path)!r} is not a local directory")
    entries: list[ZarrFileEntry] = []
    for dirpath, _dirnames, filenames in os.walk(root_path):
        for fname in filenames:
            full = Path(dirpath) / fname
            if not full.is_file():
                continue
            md5, size = file_md5(full)
            rel = full.relative_to(root_path).as_posix()
            entries.append(ZarrFileEntry(path=rel, md5sum=md5, size=size))
    entries.sort(key=lambda e: e.path)
    return entries


def zarr_tree_digest(root: str | os.PathLike[str]) -> tuple[str, list[ZarrFileEntry]]:
    """DANDI-style digest of a local Zarr directory and its per-file manifest (sorted by path).

    Raises:
        FileNotFoundError: ``root`` is not a local directory (remote archives cannot be hashed).
        OSError: a file cannot be read.
    """
    if isinstance(root, str) and "://" in root:
        raise FileNotFoundError(f"cannot compute the checksum of a remote Zarr archive ({root!r})")
    entries = zarr_manifest_entries(root)
    return zarr_tree_digest_from_entries(entries), entries


# ---------------------------------------------------------------------------------------------------------------------
# V2 manifest Parquet
# ---------------------------------------------------------------------------------------------------------------------


def write_zarr_manifest(root: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> str:
    """Write the DatasetV2 manifest (Parquet, columns ``path``, ``md5_checksum``) and return the md5 of the file.

    Rows are sorted by path (the reference client used filesystem order), so the same archive gives the same bytes.

    Raises:
        FileNotFoundError: ``root`` is not a local directory.
        OSError: reading the archive or writing the manifest failed.
    """
    return write_zarr_manifest_entries(zarr_manifest_entries(root), out_path)


def write_zarr_manifest_entries(entries: Sequence[ZarrFileEntry], out_path: str | os.PathLike[str]) -> str:
    """Write the DatasetV2 manifest Parquet of ``entries`` (sorted by path) and return the md5 of the file.

    Raises:
        OSError: writing the manifest failed.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    entries = sorted(entries, key=lambda e: e.path)
    table = pa.table(
        {
            "path": pa.array([e.path for e in entries], pa.string()),
            "md5_checksum": pa.array([e.md5sum for e in entries], pa.string()),
        }
    )
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".incomplete")
    pq.write_table(table, tmp, row_group_size=MANIFEST_ROW_GROUP_SIZE)
    tmp.replace(out)
    md5, _ = file_md5(out)
    return md5


def read_zarr_manifest(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{relative path: md5 hex}`` from a V2 manifest Parquet file.

    Every key must be a plain relative path (:func:`manifest_key`) and every md5 32 hex digits; a key listed twice
    or an alias of another is refused.

    Raises:
        OSError: the file cannot be read.
        ValueError: the file lacks the ``path`` / ``md5_checksum`` columns.
        InvalidArtifactError: a key or md5 is refused (a ``ValueError`` too).
    """
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    missing = {"path", "md5_checksum"} - set(table.column_names)
    if missing:
        raise ValueError(f"Zarr manifest {str(path)!r} lacks columns {sorted(missing)}")
    paths = table.column("path").to_pylist()
    md5s = table.column("md5_checksum").to_pylist()
    return _checked_manifest(zip(paths, md5s, strict=True), f"the Zarr manifest {Path(path).name!r}")

"""Checksums exactly as the Polaris Hub computes them.

* :func:`table_md5` / :func:`dataset_md5` — the DatasetV1 ``md5Sum``: an MD5 over the sum of per-row hashes of the
  table, bit-for-bit what ``pandas.util.hash_pandas_object(df[sorted(columns)], index=False)`` gave under pandas
  2.2 with numpy dtypes. The row hash is implemented here with numpy (vectorised SipHash-2-4 for strings) so that
  neither the pandas version nor the string dtype (object, ``string``, pandas 3's ``str``) changes the result.
* :func:`zarr_tree_digest` — the DANDI-style ``"<md5>-<count>-<size>"`` digest of a Zarr directory plus its per-file
  manifest.
* :func:`benchmark_md5` — the benchmark ``md5Sum``.
* :func:`write_zarr_manifest` / :func:`read_zarr_manifest` — the DatasetV2 manifest Parquet file.
* :func:`index_set_md5` — the ``md5Checksum`` of a V2 benchmark's serialised Roaring index set.
* :func:`should_verify` / :func:`verify_md5` — the checksum strategies and the one place a mismatch becomes an error.

Heavy libraries (numpy, pandas, pyarrow) are imported inside the functions that need them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polaris.errors import InvalidArtifactError, PolarisChecksumError
from polaris.types import MD5_PATTERN, ChecksumStrategy

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

__all__ = [
    "FILE_CHUNK_SIZE",
    "HASH_KEY",
    "ZarrFileEntry",
    "benchmark_md5",
    "bytes_md5",
    "dataset_md5",
    "file_md5",
    "index_set_md5",
    "is_md5",
    "manifest_from_wire",
    "manifest_key",
    "md5_b64",
    "metric_checksum_strings",
    "read_zarr_manifest",
    "require_manifest_md5",
    "row_hashes",
    "should_verify",
    "table_md5",
    "verify_md5",
    "write_zarr_manifest",
    "write_zarr_manifest_entries",
    "zarr_manifest_entries",
    "zarr_tree_digest",
    "zarr_tree_digest_from_entries",
]

logger = logging.getLogger(__name__)

#: Bytes read at a time when hashing files.
FILE_CHUNK_SIZE = 1024 * 1024
#: pandas' default hash key (16 ASCII bytes -> the 128-bit SipHash key).
HASH_KEY = b"0123456789123456"
#: Rows per row group of the V2 manifest Parquet (the reference client's value: effectively one row group).
MANIFEST_ROW_GROUP_SIZE = 134_217_728

_U64_MAX = 0xFFFF_FFFF_FFFF_FFFF
_MIX_C1 = 0xBF58476D1CE4E5B9
_MIX_C2 = 0x94D049BB133111EB
_COMBINE_START = 0x345678
_COMBINE_MULT = 1000003
_COMBINE_END = 97531
_MD5_RE_LEN = 32


# ---------------------------------------------------------------------------------------------------------------------
# Row hashes (pandas hash_pandas_object, re-implemented)
# ---------------------------------------------------------------------------------------------------------------------


def _mix(vals: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64 finaliser, in place (mod 2**64)."""
    import numpy as np

    vals ^= vals >> np.uint64(30)
    vals *= np.uint64(_MIX_C1)
    vals ^= vals >> np.uint64(27)
    vals *= np.uint64(_MIX_C2)
    vals ^= vals >> np.uint64(31)
    return vals


def _rotl(x: npt.NDArray[np.uint64], b: int) -> npt.NDArray[np.uint64]:
    import numpy as np

    return (x << np.uint64(b)) | (x >> np.uint64(64 - b))


def _sipround(
    v0: npt.NDArray[np.uint64], v1: npt.NDArray[np.uint64], v2: npt.NDArray[np.uint64], v3: npt.NDArray[np.uint64]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    v0 = v0 + v1
    v1 = _rotl(v1, 13)
    v1 ^= v0
    v0 = _rotl(v0, 32)
    v2 = v2 + v3
    v3 = _rotl(v3, 16)
    v3 ^= v2
    v0 = v0 + v3
    v3 = _rotl(v3, 21)
    v3 ^= v0
    v2 = v2 + v1
    v1 = _rotl(v1, 17)
    v1 ^= v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash24(messages: Sequence[bytes], key: bytes = HASH_KEY) -> npt.NDArray[np.uint64]:
    """SipHash-2-4 (64-bit output) of every message, vectorised over messages with numpy.

    The work is proportional to the total number of bytes; the number of numpy calls to the longest message.

    Raises:
        ValueError: the key is not 16 bytes.
    """
    import numpy as np

    if len(key) != 16:
        raise ValueError("SipHash key must be 16 bytes")
    n = len(messages)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    k0 = int.from_bytes(key[:8], "little")
    k1 = int.from_bytes(key[8:], "little")

    lens = np.fromiter((len(m) for m in messages), dtype=np.int64, count=n)
    n_words = lens // 8 + 1  # full blocks + the final block
    word_starts = np.zeros(n, dtype=np.int64)
    np.cumsum(n_words[:-1], out=word_starts[1:])
    total_words = int(n_words.sum())

    # Scatter the bytes of every message into its zero-padded slot of 8-byte words.
    padded = np.zeros(total_words * 8, dtype=np.uint8)
    total_bytes = int(lens.sum())
    if total_bytes:
        flat = np.frombuffer(b"".join(messages), dtype=np.uint8)
        byte_starts = np.zeros(n, dtype=np.int64)
        np.cumsum(lens[:-1], out=byte_starts[1:])
        pos_in_msg = np.arange(total_bytes, dtype=np.int64) - np.repeat(byte_starts, lens)
        padded[np.repeat(word_starts * 8, lens) + pos_in_msg] = flat
    words = padded.view("<u8").astype(np.uint64)
    # Final block carries the length (mod 256) in its top byte.
    words[word_starts + n_words - 1] |= (lens.astype(np.uint64) & np.uint64(0xFF)) << np.uint64(56)

    # Longest messages first, so the rows still compressing at step s are a prefix.
    order = np.argsort(-n_words, kind="stable")
    sorted_words = n_words[order]
    sorted_starts = word_starts[order]
    v0 = np.full(n, k0 ^ 0x736F6D6570736575, dtype=np.uint64)
    v1 = np.full(n, k1 ^ 0x646F72616E646F6D, dtype=np.uint64)
    v2 = np.full(n, k0 ^ 0x6C7967656E657261, dtype=np.uint64)
    v3 = np.full(n, k1 ^ 0x7465646279746573, dtype=np.uint64)
    max_words = int(sorted_words[0])
    # active[s] = number of messages with more than s words
    active_counts = np.searchsorted(-sorted_words, -np.arange(1, max_words + 1), side="right")
    for step in range(max_words):
        k = int(active_counts[step]) if step > 0 else n
        m = words[sorted_starts[:k] + step]
        a0, a1, a2, a3 = v0[:k], v1[:k], v2[:k], v3[:k] ^ m
        for _ in range(2):
            a0, a1, a2, a3 = _sipround(a0, a1, a2, a3)
        a0 ^= m
        v0[:k], v1[:k], v2[:k], v3[:k] = a0, a1, a2, a3
    v2 ^= np.uint64(0xFF)
    for _ in range(4):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    hashed_sorted = v0 ^ v1 ^ v2 ^ v3
    out = np.empty(n, dtype=np.uint64)
    out[order] = hashed_sorted
    return out


def _hash_object_values(values: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """Hash an object array the way pandas does with ``categorize=True``.

    Nulls (None, NaN, NA, NaT) -> all ones (no mix); strings -> SipHash of UTF-8 then mix; bytes as-is; if any other
    object is present, every non-null value is hashed through ``str(value)``.
    """
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques_list = list(np.asarray(uniques, dtype=object))
    if not all(isinstance(u, (str, bytes)) for u in uniques_list):
        uniques_list = [str(u) for u in uniques_list]
    hashed = _hash_strings(uniques_list)
    codes_arr = np.asarray(codes, dtype=np.int64)
    if len(hashed):
        result = hashed.take(np.where(codes_arr < 0, 0, codes_arr))
    else:
        result = np.zeros(len(codes_arr), dtype=np.uint64)
    result[codes_arr < 0] = np.uint64(_U64_MAX)
    return result


#: Strings whose hashes decide whether pandas' C SipHash gives the Hub's values in this pandas version.
_PROBE_STRINGS: tuple[str | bytes, ...] = (
    "",
    "a",
    "CCO",
    "Cc1ccccc1",
    "\u00e9t\u00e9 \u4e2d\u6587",
    "x" * 100,
    b"\x00\xff",
)
_USE_PANDAS_HASH: bool | None = None


def _hash_strings_ours(values: Sequence[str | bytes]) -> npt.NDArray[np.uint64]:
    """SipHash-2-4 of each value's UTF-8 bytes, mixed: the Hub's per-string hash, in numpy."""
    return _mix(siphash24([v.encode("utf-8") if isinstance(v, str) else v for v in values]))


def _hash_strings_pandas(values: Sequence[str | bytes]) -> npt.NDArray[np.uint64]:
    """The same through pandas' C implementation (``hash_array(..., categorize=False)``), ~3x faster."""
    import numpy as np
    import pandas as pd

    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return np.asarray(pd.util.hash_array(array, categorize=False), dtype=np.uint64)


def pandas_string_hash_matches() -> bool:
    """Whether this pandas' string hash equals the Hub's (checked once per process on probe strings)."""
    global _USE_PANDAS_HASH
    if _USE_PANDAS_HASH is None:
        import numpy as np

        try:
            same = bool(np.array_equal(_hash_strings_pandas(_PROBE_STRINGS), _hash_strings_ours(_PROBE_STRINGS)))
        except Exception as exc:  # an API change: keep ours
            logger.debug("pandas string hashing unusable: %s", exc)
            same = False
        if not same:
            logger.info("this pandas version hashes strings differently from the Hub; using the numpy SipHash")
        _USE_PANDAS_HASH = same
    return _USE_PANDAS_HASH


def _hash_strings(values: Sequence[str | bytes]) -> npt.NDArray[np.uint64]:
    if not values:
        import numpy as np

        return np.zeros(0, dtype=np.uint64)
    if pandas_string_hash_matches():
        return _hash_strings_pandas(values)
    return _hash_strings_ours(values)


def _hash_numpy_values(values: npt.NDArray[Any]) -> npt.NDArray[np.uint64] | None:
    """Hash a numeric/bool/datetime numpy array; ``None`` when the dtype is not one of those."""
    import numpy as np

    dtype = values.dtype
    if np.issubdtype(dtype, np.complexfloating) and dtype.itemsize <= 16:
        real = _hash_numpy_values(np.ascontiguousarray(values.real))
        imag = _hash_numpy_values(np.ascontiguousarray(values.imag))
        assert real is not None and imag is not None
        return real + np.uint64(23) * imag
    if dtype == np.bool_:
        vals = values.astype(np.uint64)
    elif issubclass(dtype.type, (np.datetime64, np.timedelta64)):
        vals = np.ascontiguousarray(values).view(np.int64).astype(np.uint64)
    elif issubclass(dtype.type, np.number) and dtype.itemsize <= 8:
        vals = np.ascontiguousarray(values).view(f"u{dtype.itemsize}").astype(np.uint64)
    else:
        return None
    return _mix(vals)


def _is_string_dtype(dtype: Any) -> bool:
    import pandas as pd

    return isinstance(dtype, pd.StringDtype) or str(dtype) in ("str", "string")


def _column_hash(series: pd.Series[Any]) -> npt.NDArray[np.uint64]:
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cat = series.array
        assert isinstance(cat, pd.Categorical)
        cat_hash = _column_hash(pd.Series(cat.categories))
        codes = np.asarray(cat.codes, dtype=np.int64)
        if len(cat_hash):
            result = cat_hash.take(np.where(codes < 0, 0, codes))
        else:
            result = np.zeros(len(codes), dtype=np.uint64)
        result[codes < 0] = np.uint64(_U64_MAX)
        return result
    if _is_string_dtype(dtype) or (isinstance(dtype, np.dtype) and dtype.kind == "O"):
        return _hash_object_values(np.asarray(series.astype(object).where(series.notna(), None), dtype=object))
    if isinstance(dtype, np.dtype):
        hashed = _hash_numpy_values(series.to_numpy())
        if hashed is not None:
            return hashed
        return _hash_object_values(series.to_numpy(dtype=object))
    # Other pandas extension dtypes (nullable ints, tz-aware datetimes, ...): pandas' own rules.
    logger.debug("hashing column %r of extension dtype %s with pandas", series.name, dtype)
    return np.asarray(pd.util.hash_pandas_object(series, index=False), dtype=np.uint64)


def row_hashes(df: pd.DataFrame) -> npt.NDArray[np.uint64]:
    """One uint64 per row: ``hash_pandas_object(df, index=False)`` with columns in the order given.

    Raises:
        ValueError: a column name appears twice.
    """
    import numpy as np

    n_cols = df.shape[1]
    if n_cols == 0:
        return np.zeros(0, dtype=np.uint64)
    if not df.columns.is_unique:
        raise ValueError("table column names must be unique to compute a checksum")
    acc = np.full(len(df), _COMBINE_START, dtype=np.uint64)
    mult = _COMBINE_MULT
    for i in range(n_cols):
        acc ^= _column_hash(df.iloc[:, i])
        acc *= np.uint64(mult)
        mult = (mult + 82520 + 2 * (n_cols - i)) & _U64_MAX
    acc += np.uint64(_COMBINE_END)
    return acc


def _table_sum_bytes(df: pd.DataFrame) -> bytes:
    import numpy as np

    ordered = df[sorted(df.columns)]
    hashes = row_hashes(ordered)
    total = np.uint64(hashes.sum(dtype=np.uint64)) if len(hashes) else np.uint64(0)
    return np.array([total], dtype="<u8").tobytes()


def table_md5(df: pd.DataFrame, zarr_digest: str | None = None) -> str:
    """The Hub's content checksum of a table (row and column order do not matter; column names are not hashed).

    ``zarr_digest`` (the :func:`zarr_tree_digest` string) is appended when the dataset has pointer columns.

    Raises:
        ValueError: duplicate column names.
    """
    md5 = hashlib.md5(_table_sum_bytes(df))
    if zarr_digest is not None:
        md5.update(zarr_digest.encode("ascii"))
    return md5.hexdigest()


def dataset_md5(df: pd.DataFrame, zarr_digest: str | None) -> str:
    """DatasetV1 ``md5Sum``: :func:`table_md5` plus the Zarr root digest when the dataset has pointer columns.

    Raises:
        ValueError: duplicate column names.
    """
    return table_md5(df, zarr_digest)


# ---------------------------------------------------------------------------------------------------------------------
# Files and Zarr trees
# ---------------------------------------------------------------------------------------------------------------------


def file_md5(path: str | os.PathLike[str]) -> tuple[str, int]:
    """``(md5 hex, size in bytes)`` of a file, read in :data:`FILE_CHUNK_SIZE` chunks.

    Raises:
        OSError: the file cannot be read.
    """
    md5 = hashlib.md5()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(FILE_CHUNK_SIZE):
            md5.update(chunk)
            size += len(chunk)
    return md5.hexdigest(), size


def bytes_md5(data: bytes) -> str:
    """md5 hex of ``data``."""
    return hashlib.md5(data).hexdigest()


def index_set_md5(serialized: bytes) -> str:
    """The Hub's ``md5Checksum`` of an index set: md5 hex of its portable Roaring bytes (0.11-0.13 facts, 5.5)."""
    return bytes_md5(serialized)


def md5_b64(data: bytes) -> str:
    """Base64 of the raw 16-byte MD5 of ``data`` (the S3 ``Content-MD5`` header)."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def is_md5(value: object) -> bool:
    """True for 32 lowercase hex characters."""
    import re

    return isinstance(value, str) and re.fullmatch(MD5_PATTERN, value) is not None


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


# ---------------------------------------------------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------------------------------------------------


def metric_checksum_strings(metrics: Iterable[Any]) -> list[str]:
    """Sorted checksum strings of metrics given as objects with ``checksum_string()``, wire dicts or labels."""
    out: list[str] = []
    for metric in metrics:
        if isinstance(metric, str):
            out.append(metric)
        elif isinstance(metric, Mapping):
            config = metric.get("config")
            if config:
                full = {"aggregation": "mean", "default": None, "on_error": "raise", **dict(config)}
                out.append(str(metric["label"]) + json.dumps(full, sort_keys=True))
            else:
                out.append(str(metric["label"]))
        else:
            out.append(str(metric.checksum_string()))
    return sorted(out)


def benchmark_md5(
    dataset_md5: str,
    target_cols: Iterable[str],
    input_cols: Iterable[str],
    metrics: Iterable[Any],
    split: tuple[Sequence[int], Mapping[str, Sequence[int]]] | Sequence[Any],
) -> str:
    """Benchmark ``md5Sum`` (section 7.5).

    ``metrics``: :class:`polaris.evaluate.Metric` objects, wire dicts or labels. ``split``: ``(train, {name: indices})``
    or ``(train, test_indices)`` (a single test set named ``test``).

    Raises:
        ValueError: ``split`` is not a pair.
    """
    if len(split) != 2:
        raise ValueError("split must be (train indices, test indices or {name: indices})")
    train, test = split[0], split[1]
    if not isinstance(test, Mapping):
        test = {"test": test}
    md5 = hashlib.md5()
    md5.update(dataset_md5.encode("utf-8"))
    for col in sorted(target_cols):
        md5.update(col.encode("utf-8"))
    for col in sorted(input_cols):
        md5.update(col.encode("utf-8"))
    for text in metric_checksum_strings(metrics):
        md5.update(text.encode("utf-8"))
    md5.update(json.dumps(sorted(int(i) for i in train)).encode("utf-8"))
    for name in sorted(test):
        md5.update(str(name).encode("utf-8"))
        md5.update(json.dumps(sorted(int(i) for i in test[name])).encode("utf-8"))
    return md5.hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------------------------

_STRATEGIES: tuple[str, ...] = ("verify", "verify_unless_zarr", "ignore")


def should_verify(strategy: ChecksumStrategy, *, has_zarr: bool, version: int = 1) -> bool:
    """Whether a downloaded dataset's content checksum is recomputed and compared (section 7.7).

    DatasetV2 (``version=2``) is never verified; ``verify_unless_zarr`` skips datasets with pointer columns.

    Raises:
        ValueError: unknown strategy.
    """
    if strategy not in _STRATEGIES:
        raise ValueError(f"unknown checksum strategy {strategy!r}; expected one of {', '.join(_STRATEGIES)}")
    if version >= 2:
        return False
    if strategy == "verify":
        return True
    if strategy == "verify_unless_zarr":
        return not has_zarr
    return False


def verify_md5(expected: str, actual: str, *, artifact: str | None = None, chunk: str | None = None) -> None:
    """Compare two md5 hex digests (case-insensitive).

    Raises:
        PolarisChecksumError: they differ; the error names the artifact and, when given, the chunk.
    """
    if expected.lower() != actual.lower():
        what = f"chunk {chunk!r} of {artifact}" if chunk else (artifact or "data")
        raise PolarisChecksumError(
            f"checksum mismatch for {what}", artifact=artifact, expected=expected, actual=actual, chunk=chunk
        )

"""Row hashes and table checksums exactly as the Polaris Hub computes them.

:func:`table_md5` / :func:`dataset_md5` give the DatasetV1 ``md5Sum``: an MD5 over the sum of per-row hashes of the
table, bit-for-bit what ``pandas.util.hash_pandas_object(df[sorted(columns)], index=False)`` gave under pandas 2.2 with
numpy dtypes. The row hash is implemented here with numpy (vectorised SipHash-2-4 for strings) so that neither the
pandas version nor the string dtype (object, ``string``, pandas 3's ``str``) changes the result.

The documented names are re-exported by :mod:`polaris.checksum`. numpy and pandas are imported inside the functions.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

__all__ = ["HASH_KEY", "dataset_md5", "pandas_string_hash_matches", "row_hashes", "siphash24", "table_md5"]

logger = logging.getLogger(__name__)

#: pandas' default hash key (16 ASCII bytes -> the 128-bit SipHash key).
HASH_KEY = b"0123456789123456"

_U64_MAX = 0xFFFF_FFFF_FFFF_FFFF
_MIX_C1 = 0xBF58476D1CE4E5B9
_MIX_C2 = 0x94D049BB133111EB
_COMBINE_START = 0x345678
_COMBINE_MULT = 1000003
_COMBINE_END = 97531


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

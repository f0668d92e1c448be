"""Index sets of V2 benchmark splits: row positions kept as a Roaring bitmap (0.11-0.13 facts, section 5.5).

On the wire an index set is ``{datapoints, md5Checksum}``; its content is the bitmap serialised in CRoaring's
portable format (run containers where they are smaller), stored as one ``.roaring`` object. The bytes are exactly
what ``pyroaring.BitMap(indices).serialize()`` writes, so ``md5Checksum`` equals the Hub's value. ``pyroaring`` is
imported only when a bitmap is built or read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr, computed_field, model_validator
from pydantic.alias_generators import to_camel

from polaris import checksum, checksum_md5

__all__ = ["MAX_INDEX", "ROARING_CONTENT_TYPE", "IndexSet", "roaring_max_bytes"]

#: Largest row position a 32-bit Roaring bitmap can hold.
MAX_INDEX = 2**32 - 1
#: Content type of a serialised index set in object storage.
ROARING_CONTENT_TYPE = "application/vnd.roaringbitmap"


def roaring_max_bytes(datapoints: int) -> int:
    """The most bytes a portable Roaring serialisation of ``datapoints`` positions can take.

    A header (cookie, container count, per-container key/cardinality and offset: 16 bytes each at most) plus, per
    position, at most 4 bytes (an array container takes 2, a run container of single-element runs 4; a bitmap
    container is only ever smaller). An answer longer than this is not the set it claims to be.
    """
    containers = min(max(0, datapoints), 65536)
    return 64 + 16 * containers + 4 * max(0, datapoints)


def _as_positions(values: Iterable[Any]) -> Any:
    """Row positions ready for ``BitMap``; refuses non-integers, negatives, duplicates and values beyond 32 bits."""
    import array

    import numpy as np

    if isinstance(values, range):
        values = values if values.step > 0 else values[::-1]
        if len(values) and (min(values) < 0 or max(values) > MAX_INDEX):
            raise ValueError("index set: row positions must be in [0, 2**32)")
        return values
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        flat = values.ravel()
        if flat.size and (int(flat.min()) < 0 or int(flat.max()) > MAX_INDEX):
            bad = flat[(flat < 0) | (flat > MAX_INDEX)]
            raise ValueError(f"index set: row positions must be in [0, 2**32), got {sorted(set(bad.tolist()))[:10]}")
        unique, counts = np.unique(flat, return_counts=True)
        if unique.size != flat.size:
            raise ValueError(f"index set: duplicate row positions {unique[counts > 1][:10].tolist()}")
        return array.array("I", flat.astype(np.uint32).tobytes())
    raw = values.tolist() if isinstance(values, np.ndarray) else list(values)
    out: list[int] = []
    for v in raw:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            else:
                raise ValueError(f"index set: {v!r} is not an integer row position")
        out.append(int(v))
    bad_values = [i for i in out if i < 0 or i > MAX_INDEX]
    if bad_values:
        raise ValueError(f"index set: row positions must be in [0, 2**32), got {sorted(set(bad_values))[:10]}")
    if len(set(out)) != len(out):
        seen: set[int] = set()
        dupes = sorted({i for i in out if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
        raise ValueError(f"index set: duplicate row positions {dupes[:10]}")
    return out


class IndexSet(BaseModel):
    """A set of row positions backed by a ``pyroaring.BitMap``.

    Build one with :meth:`from_indices` (or ``IndexSet(indices=[...])``) or :meth:`deserialize`. A set parsed from
    the Hub's metadata alone (``{datapoints, md5Checksum}``) knows its size and checksum but not its rows until
    :meth:`load` gives it the stored bytes.

    Raises (on construction):
        pydantic.ValidationError: non-integer, negative, duplicate or > 32-bit positions, or an invalid checksum.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    _bitmap: Any = PrivateAttr(default=None)
    _wire_datapoints: int | None = PrivateAttr(default=None)
    _wire_md5: str | None = PrivateAttr(default=None)
    _serialized: bytes | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _build(cls, data: Any, handler: Any) -> Any:
        if isinstance(data, IndexSet):
            return data
        indices = datapoints = md5 = None
        if isinstance(data, Mapping):
            indices = data.get("indices")
            datapoints = data.get("datapoints")
            md5 = data.get("md5Checksum", data.get("md5_checksum"))
        elif data is not None and not isinstance(data, (str, bytes)):
            indices = data
        obj = handler({})
        if indices is not None:
            from pyroaring import BitMap

            obj._bitmap = BitMap(_as_positions(indices))
        else:
            if datapoints is not None:
                if isinstance(datapoints, bool) or not isinstance(datapoints, int) or datapoints < 0:
                    raise ValueError(f"datapoints must be a non-negative integer, got {datapoints!r}")
                obj._wire_datapoints = datapoints
            if md5 is not None:
                if not checksum_md5.is_md5(md5):
                    raise ValueError(f"md5Checksum must be 32 lowercase hex characters, got {md5!r}")
                obj._wire_md5 = md5
        return obj

    # -- construction ---------------------------------------------------------------------------------------------

    @classmethod
    def from_indices(cls, indices: Iterable[Any]) -> Self:
        """An index set of these row positions.

        Raises:
            ValueError: non-integer, negative, duplicate or > 32-bit positions.
        """
        from pyroaring import BitMap

        obj = cls.model_construct()
        obj._bitmap = BitMap(_as_positions(indices))
        return obj  # type: ignore[return-value]

    @classmethod
    def deserialize(cls, data: bytes, *, expected_md5: str | None = None, artifact: str | None = None) -> Self:
        """Read the portable Roaring format; with ``expected_md5`` the bytes are checked first.

        Raises:
            PolarisChecksumError: the bytes do not match ``expected_md5``.
            ValueError: the bytes are not a serialised Roaring bitmap.
        """
        if expected_md5 is not None:
            checksum.verify_md5(expected_md5, checksum_md5.bytes_md5(data), artifact=artifact)
        from pyroaring import BitMap

        try:
            bitmap = BitMap.deserialize(bytes(data))
        except Exception as exc:  # CRoaring reports corrupt input with various exception types
            raise ValueError(f"not a serialised Roaring bitmap ({type(exc).__name__}: {exc})") from exc
        obj = cls.model_construct()
        obj._bitmap = bitmap
        obj._serialized = bytes(data)
        return obj  # type: ignore[return-value]

    def load(self, data: bytes, *, artifact: str | None = None) -> Self:
        """A copy of this set with its rows read from ``data``, checked against the known md5 and size.

        Raises:
            PolarisChecksumError: the bytes do not match the checksum this set carries.
            ValueError: not a Roaring bitmap, or it holds a different number of rows than announced.
        """
        if self._wire_datapoints is not None:
            from polaris.limits import check_at_most

            check_at_most(
                "index set body length",
                len(data),
                roaring_max_bytes(self._wire_datapoints),
                by=f"a Roaring bitmap of the {self._wire_datapoints} datapoints announced",
                artifact=artifact,
            )
        loaded = type(self).deserialize(data, expected_md5=self._wire_md5, artifact=artifact)
        if self._wire_datapoints is not None and loaded.datapoints != self._wire_datapoints:
            raise ValueError(
                f"index set of {artifact or 'the benchmark'}: {loaded.datapoints} rows stored, "
                f"{self._wire_datapoints} announced"
            )
        return loaded

    def read_limit(
        self, *, n_rows: int | None = None, max_bytes: int | None = None, artifact: str | None = None
    ) -> int:
        """The most bytes the stored form of this announced set may take, checked before it is read.

        The announced ``datapoints`` must not exceed ``n_rows`` (the dataset's rows); the bound is what a Roaring
        bitmap of that many positions can take (:func:`roaring_max_bytes`, of ``n_rows`` when no size was
        announced), and never more than the ``max_declared_bytes`` ceiling.

        Raises:
            DeclaredSizeError: ``datapoints`` beyond ``n_rows``.
        """
        from polaris.limits import DEFAULT_MAX_DECLARED_BYTES, check_at_most

        ceiling = DEFAULT_MAX_DECLARED_BYTES if max_bytes is None else int(max_bytes)
        size = self._wire_datapoints if self._bitmap is None else len(self._bitmap)
        if size is not None and n_rows is not None:
            check_at_most("index set datapoints", size, n_rows, by="the dataset's nRows", artifact=artifact)
        rows = size if size is not None else n_rows
        return ceiling if rows is None else min(ceiling, roaring_max_bytes(rows))

    # -- content --------------------------------------------------------------------------------------------------

    @property
    def is_loaded(self) -> bool:
        """Whether the row positions are known (not only size and checksum)."""
        return self._bitmap is not None

    @property
    def bitmap(self) -> Any:
        """The ``pyroaring.BitMap``.

        Raises:
            ValueError: only the metadata is known (see :meth:`load`).
        """
        if self._bitmap is None:
            raise ValueError("this index set holds only its size and checksum; load its bytes first")
        return self._bitmap

    @property
    def indices(self) -> list[int]:
        """Sorted row positions, as a Python list (a caller asking for rows; see :meth:`to_numpy`)."""
        return [int(i) for i in self.bitmap]

    def to_numpy(self) -> Any:
        """Sorted row positions as a NumPy ``int64`` array (8 bytes a row, not a Python ``int`` each).

        Raises:
            DeclaredSizeError: more rows than the default ``max_declared_bytes`` ceiling allows at 8 bytes each.
        """
        import numpy as np

        from polaris.limits import ROW_COST_BYTES, check_declared

        check_declared("index set rows", len(self.bitmap), item_bytes=ROW_COST_BYTES)
        return np.frombuffer(self.bitmap.to_array(), dtype=np.uint32).astype(np.int64)

    def __iter__(self) -> Iterator[int]:  # type: ignore[override]
        return (int(i) for i in self.bitmap)

    def __len__(self) -> int:
        return self.datapoints

    def __contains__(self, item: object) -> bool:
        return item in self.bitmap

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IndexSet):
            return NotImplemented
        if self.is_loaded and other.is_loaded:
            return bool(self.bitmap == other.bitmap)
        return (self.datapoints, self.md5_checksum) == (other.datapoints, other.md5_checksum)

    __hash__ = None  # type: ignore[assignment]

    def max_index(self) -> int | None:
        """The largest row position, or ``None`` for an empty set."""
        return int(self.bitmap.max()) if len(self.bitmap) else None

    def intersection(self, other: IndexSet) -> list[int]:
        """Sorted positions in both sets (a list: see :meth:`overlap` for a bounded look)."""
        return [int(i) for i in self.bitmap & other.bitmap]

    def overlap(self, other: IndexSet, *, first: int = 10) -> tuple[int, list[int]]:
        """``(how many positions both sets hold, the first ``first`` of them)``, computed on the bitmaps."""
        import itertools

        count = int(self.bitmap.intersection_cardinality(other.bitmap))
        if not count:
            return 0, []
        return count, [int(i) for i in itertools.islice(self.bitmap & other.bitmap, first)]

    def serialize(self) -> bytes:
        """CRoaring's portable format of the run-optimised bitmap (byte for byte what the Hub stores)."""
        if self._serialized is None:
            from pyroaring import BitMap

            bitmap = BitMap(self.bitmap)  # a copy: run_optimize must not change the caller's bitmap
            bitmap.run_optimize()
            self._serialized = bytes(bitmap.serialize())
        return self._serialized

    @computed_field  # type: ignore[prop-decorator]
    @property
    def datapoints(self) -> int:
        """Number of rows in the set."""
        if self._bitmap is not None:
            return len(self._bitmap)
        if self._wire_datapoints is None:
            raise ValueError("this index set has neither rows nor a size")
        return self._wire_datapoints

    @computed_field  # type: ignore[prop-decorator]
    @property
    def md5_checksum(self) -> str:
        """md5 hex of :meth:`serialize` (the Hub's ``md5Checksum``)."""
        if self._bitmap is not None:
            return checksum.index_set_md5(self.serialize())
        if self._wire_md5 is None:
            raise ValueError("this index set has neither rows nor a checksum")
        return self._wire_md5

    def to_wire(self) -> dict[str, Any]:
        """``{"datapoints": n, "md5Checksum": "<md5>"}``."""
        return {"datapoints": self.datapoints, "md5Checksum": self.md5_checksum}

    def __repr__(self) -> str:
        return f"IndexSet(datapoints={self.datapoints}, md5_checksum={self.md5_checksum!r})"

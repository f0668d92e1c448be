"""Bounds on what a Hub answer or an archive's metadata declares, checked before anything is allocated.

A size, count or shape that comes from outside (a Zarr array's shape and chunk grid, an ``__index__`` length, an
index set's ``datapoints``, an object's length, a response body) is a claim. It is checked twice before the client
acts on it:

1. against what the artifact itself declares (``nRows``, the number of members of a group, the manifest,
   ``datapoints``, ``Content-Length``): a mismatch is refused whatever its size;
2. against one configurable ceiling, ``PolarisHubSettings.max_declared_bytes`` (``POLARIS_MAX_DECLARED_BYTES``,
   default :data:`DEFAULT_MAX_DECLARED_BYTES`): the most memory one declared thing may make the client reserve.
   Counts are turned into bytes with a fixed cost per item (:data:`KEY_COST_BYTES` for a key the client would list,
   :data:`ROW_COST_BYTES` for a row position), so one number bounds them all.

Both raise :class:`~polaris.errors.DeclaredSizeError`, naming the field, the value and the limit.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_MAX_DECLARED_BYTES",
    "KEY_COST_BYTES",
    "ROW_COST_BYTES",
    "check_at_most",
    "check_count",
    "check_declared",
    "check_equal",
]

#: Default ceiling (bytes) for anything one declared size makes the client allocate: 2 GiB.
DEFAULT_MAX_DECLARED_BYTES = 2 * 1024**3
#: What one listed key costs the client (a short ``str`` in a list, with its share of the list): bytes.
KEY_COST_BYTES = 128
#: What one row position costs when a caller asks for rows as NumPy ``int64``: bytes.
ROW_COST_BYTES = 8


def check_declared(
    field: str,
    declared: int,
    *,
    max_bytes: int | None = None,
    item_bytes: int = 1,
    artifact: str | None = None,
    reason: str | None = None,
) -> int:
    """``declared`` items of ``item_bytes`` each, refused when they would exceed ``max_bytes`` (the ceiling).

    Returns ``declared``. ``reason`` says where ``max_bytes`` comes from when it is not the ceiling itself.

    Raises:
        DeclaredSizeError: negative, or more bytes than the ceiling allows.
    """
    from polaris.errors import DeclaredSizeError

    ceiling = DEFAULT_MAX_DECLARED_BYTES if max_bytes is None else int(max_bytes)
    if declared < 0:
        raise DeclaredSizeError(field, declared, 0, reason="a size that cannot be negative", artifact=artifact)
    allowed = ceiling // max(1, item_bytes)
    if declared > allowed:
        unit = "" if item_bytes == 1 else f" at {item_bytes} bytes each"
        reason = reason or f"the max_declared_bytes ceiling of {ceiling} bytes{unit}"
        raise DeclaredSizeError(field, declared, allowed, reason=reason, artifact=artifact)
    return declared


def check_count(field: str, declared: int, *, max_bytes: int | None = None, artifact: str | None = None) -> int:
    """A number of keys the client would list, bounded by the ceiling at :data:`KEY_COST_BYTES` each.

    Raises:
        DeclaredSizeError: more keys than the ceiling allows.
    """
    return check_declared(field, declared, max_bytes=max_bytes, item_bytes=KEY_COST_BYTES, artifact=artifact)


def check_equal(field: str, declared: int, expected: int, *, by: str, artifact: str | None = None) -> int:
    """``declared`` must be exactly ``expected``, the value the artifact itself declares (named by ``by``).

    Raises:
        DeclaredSizeError: the two differ.
    """
    from polaris.errors import DeclaredSizeError

    if declared != expected:
        raise DeclaredSizeError(field, declared, expected, reason=by, artifact=artifact)
    return declared


def check_at_most(field: str, declared: int, limit: int, *, by: str, artifact: str | None = None) -> int:
    """``declared`` must not exceed ``limit``, a bound the artifact itself declares (named by ``by``).

    Raises:
        DeclaredSizeError: ``declared`` is larger (or negative).
    """
    from polaris.errors import DeclaredSizeError

    if declared < 0 or declared > limit:
        raise DeclaredSizeError(field, declared, limit, reason=by, artifact=artifact)
    return declared

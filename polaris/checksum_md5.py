"""md5 digests of bytes and files (the helpers every other checksum module builds on).

:func:`file_md5`, :func:`md5_b64` and :func:`is_md5` are re-exported by :mod:`polaris.checksum`.
"""

from __future__ import annotations

import base64
import hashlib
import os

from polaris.types import MD5_PATTERN

__all__ = ["FILE_CHUNK_SIZE", "bytes_md5", "file_md5", "is_md5", "md5_b64"]

#: Bytes read at a time when hashing files.
FILE_CHUNK_SIZE = 1024 * 1024


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


def md5_b64(data: bytes) -> str:
    """Base64 of the raw 16-byte MD5 of ``data`` (the S3 ``Content-MD5`` header)."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def is_md5(value: object) -> bool:
    """True for 32 lowercase hex characters."""
    import re

    return isinstance(value, str) and re.fullmatch(MD5_PATTERN, value) is not None

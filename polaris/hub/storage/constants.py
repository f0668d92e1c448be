"""Named constants of storage transfers (sizes, concurrency, timeouts, names on the wire)."""

from __future__ import annotations

__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_REGION",
    "INCOMPLETE_SUFFIX",
    "LIST_PAGE_SIZE",
    "MD5_METADATA_KEY",
    "MULTIPART_THRESHOLD",
    "OCTET_STREAM",
    "PARQUET_CONTENT_TYPE",
    "PART_SIZE",
    "PENDING_PER_WORKER",
    "PREALLOCATE_MAX",
    "READ_TIMEOUT",
    "READ_WHOLE_MAX",
    "STREAM_CHUNK_SIZE",
    "content_type_for",
]

DEFAULT_CONCURRENCY = 8
"""Objects transferred at the same time by one session (threads; each holds at most one part in memory)."""
MULTIPART_THRESHOLD = 10 * 1024 * 1024
"""Standalone files strictly larger than this go as multipart uploads (facts §4.4: > 10 485 760 bytes)."""
PART_SIZE = 10 * 1024 * 1024
"""Multipart part size; the last part carries the remainder."""
STREAM_CHUNK_SIZE = 1024 * 1024
"""Bytes read per step when hashing, streaming a download to disk, or reading a file."""
PREALLOCATE_MAX = 64 * 1024 * 1024
"""Most bytes reserved before they arrive when an object is read into memory (beyond: the buffer grows)."""
READ_WHOLE_MAX = 1024 * 1024
"""Files up to this size are read once into memory for upload (one open instead of two; measured faster)."""
CONNECT_TIMEOUT = 10.0
"""Seconds to establish a connection to the storage."""
READ_TIMEOUT = 120.0
"""Seconds of silence on a connection before it counts as failed."""
PENDING_PER_WORKER = 4
"""Zarr transfers keep at most ``max_workers * PENDING_PER_WORKER`` keys queued (bounded memory for huge archives)."""
LIST_PAGE_SIZE = 1000
"""Keys per listing page."""
DEFAULT_REGION = "us-east-1"
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
OCTET_STREAM = "application/octet-stream"
INCOMPLETE_SUFFIX = ".incomplete"
MD5_METADATA_KEY = "md5sum"


def content_type_for(name: str) -> str:
    """``application/vnd.apache.parquet`` for ``.parquet`` files, ``application/octet-stream`` otherwise."""
    return PARQUET_CONTENT_TYPE if name.lower().endswith(".parquet") else OCTET_STREAM

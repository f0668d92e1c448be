"""Named constants of storage transfers (sizes, concurrency, timeouts, names on the wire)."""

from __future__ import annotations

__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_REGION",
    "INCOMPLETE_SUFFIX",
    "LIST_PAGE_SIZE",
    "MAX_LIST_PAGES",
    "MD5_METADATA_KEY",
    "MULTIPART_THRESHOLD",
    "OCTET_STREAM",
    "PARQUET_CONTENT_TYPE",
    "PART_SIZE",
    "PREALLOCATE_MAX",
    "READ_TIMEOUT",
    "READ_WHOLE_MAX",
    "STREAM_CHUNK_SIZE",
    "content_type_for",
]

DEFAULT_CONCURRENCY = 8
"""Requests a session starts with in flight; its adaptive limit grows from there while throughput grows."""
DEFAULT_MAX_CONCURRENCY = 64
"""The most requests one session keeps in flight (``max_workers``; ``POLARIS_STORAGE_MAX_CONCURRENCY``). 64 at a 30 ms
round trip allows ~2000 requests/s, beyond what one client process moves (~0.5 ms of CPU per small object)."""
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
LIST_PAGE_SIZE = 1000
"""Keys per listing page."""
MAX_LIST_PAGES = 100_000
"""Most pages one listing follows (1e8 keys): a store that never stops paging is an error, not a hang."""
DEFAULT_REGION = "us-east-1"
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
OCTET_STREAM = "application/octet-stream"
INCOMPLETE_SUFFIX = ".incomplete"
MD5_METADATA_KEY = "md5sum"


def content_type_for(name: str) -> str:
    """``application/vnd.apache.parquet`` for ``.parquet`` files, ``application/octet-stream`` otherwise."""
    return PARQUET_CONTENT_TYPE if name.lower().endswith(".parquet") else OCTET_STREAM

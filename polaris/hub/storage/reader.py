"""Object GETs, HEADs and listings: SigV4-signed (:mod:`.endpoint`) over the token's one pooled urllib3 pool.

Why not ``s3.get_object`` / ``head_object`` / ``list_objects_v2``: botocore spends ~1.7 ms of CPU per request on its
event system, parameter and response-model handling (a listing also parses every key's date with dateutil), which
on a loaded 2-core machine is the client-side limit for many small objects (the server runs on the same cores).
Measured through the local Hub's gateway, 8 threads, including md5: 2000 x 4 KiB boto3 3.4 s CPU / 9.0 s wall,
httpx 1.8 s / 6.5 s, botocore's signer over urllib3 1.0 s / 5.4 s (raw obstore 0.6 s / 5.8 s); the signer of
:mod:`.endpoint` takes another ~0.2 ms per request off (``benchmarks/bench_object_cpu.py`` measures it).

The guarantees are the same as botocore's:

* **No redirects, no cross-host requests.** urllib3 is told not to follow redirects and not to retry; the pool
  only talks to the endpoint the Hub named (``assert_same_host``). A ``3xx`` becomes an error the session refuses.
* **Idle-read timeout, not a deadline.** urllib3's read timeout bounds each socket read, so a slow but steady
  object completes.
* Errors are raised as botocore ``ClientError`` (status, S3 error code, headers) so the session's one retry loop
  classifies them exactly as it does for every other request; network failures are urllib3 errors (transient).

Reading into memory (:meth:`ObjectReader.read_hashed`, lazy chunk reads and ``load_to_memory``): the body goes
straight from the socket into one buffer per object (``recv_into``, no intermediate ``bytes``), and its md5 is
updated block by block while each block is still in the CPU cache, so verifying it needs no second pass over the
object. The buffer is a plain ``bytearray``, not a NumPy array: NumPy asks for transparent huge pages on large
allocations, which measured slower overall on the Firecracker VMs this was tuned on (probably the kernel's
synchronous compaction for such regions, ``defrag=madvise``; not proven), although it skips the zero-filling: over
fresh processes reading 8 x 16 MiB lazily and then every array, median client CPU 0.55-0.68 s with NumPy buffers
against 0.40-0.53 s with ``bytearray`` (four series of five or six runs, the NumPy one higher every time).
"""

from __future__ import annotations

import hashlib
import http.client
import mmap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from polaris.errors import StorageError
from polaris.hub.storage.constants import PREALLOCATE_MAX, STREAM_CHUNK_SIZE
from polaris.hub.storage.endpoint import Endpoint, canonical_query

if TYPE_CHECKING:
    from urllib3.response import BaseHTTPResponse

    from polaris.hub.storage.tokens import ObjectLocation

__all__ = ["ObjectReader"]

GROW_MIN = 1024 * 1024
"""Smallest buffer a read into memory starts with when the answer announces no length."""
LIST_BODY_MAX = 4 * 1024 * 1024
"""Largest listing page read (1000 keys of S3's 1024-byte maximum, with their XML, stay far below)."""
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@dataclass(frozen=True)
class ListPage:
    """One page of a listing: (key, size) of each object, and the token of the next page (``None``: last page)."""

    objects: list[tuple[str, int]]
    next_token: str | None


def parse_listing(body: bytes) -> ListPage:
    """Keys (URL-decoded: the request asks for ``encoding-type=url``) and sizes of a ``ListObjectsV2`` answer.

    Raises:
        StorageError: the body is not a ``ListBucketResult``.
    """
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise StorageError(f"the storage answered a listing with something that is not XML ({exc})") from None
    ns = _S3_NS if root.tag.startswith(_S3_NS) else ""
    if root.tag != f"{ns}ListBucketResult":
        raise StorageError(f"the storage answered a listing with {root.tag!r}, not a ListBucketResult")
    encoded = (root.findtext(f"{ns}EncodingType") or "").lower() == "url"
    objects: list[tuple[str, int]] = []
    for item in root.iterfind(f"{ns}Contents"):
        key = item.findtext(f"{ns}Key") or ""
        size = (item.findtext(f"{ns}Size") or "").strip()
        if not size.isdigit():
            raise StorageError(f"the listing gives object {key[:200]!r} no valid size")
        objects.append((unquote(key) if encoded else key, int(size)))
    truncated = (root.findtext(f"{ns}IsTruncated") or "").strip().lower() == "true"
    token = root.findtext(f"{ns}NextContinuationToken")
    return ListPage(objects, token if truncated and token else None)


class ObjectReader:
    """Signed GETs against one storage endpoint with one token's credentials (thread-safe, pooled keep-alive)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint

    def close(self) -> None:
        self._endpoint.close()

    def get(self, loc: ObjectLocation, *, start: int = 0, if_match: str | None = None) -> BaseHTTPResponse:
        """Send a signed GET for ``loc`` (from byte ``start``, optionally ``If-Match``) and return the open response.

        The caller reads the body (``stream`` / ``read``) and then calls :func:`release`.

        Raises:
            botocore.exceptions.ClientError: the storage answered with a status >= 300 (redirects included).
            urllib3.exceptions.HTTPError: the connection failed or timed out.
        """
        headers: dict[str, str] = {}
        if start:
            headers["Range"] = f"bytes={start}-"
        if if_match:
            headers["If-Match"] = if_match
        return self._endpoint.send("GET", self._endpoint.path(loc.bucket, loc.key), headers)

    def head(self, loc: ObjectLocation) -> dict[str, str]:
        """The headers (lower-case names) of a HEAD of ``loc``.

        Raises:
            botocore.exceptions.ClientError: the storage answered with a status >= 300 (``404``: no such object;
                a bare ``400``: the token expired, as S3 answers HEADs without a body).
            urllib3.exceptions.HTTPError: the connection failed or timed out.
        """
        response = self._endpoint.send("HEAD", self._endpoint.path(loc.bucket, loc.key), {}, operation="HeadObject")
        try:
            return {k.lower(): v for k, v in response.headers.items()}
        finally:
            release(response, complete=True)

    def list_page(self, bucket: str, prefix: str, continuation: str | None, max_keys: int) -> ListPage:
        """One page of ``ListObjectsV2`` under ``prefix`` (keys URL-encoded on the wire, decoded here).

        Raises:
            botocore.exceptions.ClientError: the storage answered with a status >= 300.
            urllib3.exceptions.HTTPError: the connection failed, timed out or the answer was cut short.
            StorageError: the answer is not a listing (or is larger than any listing page).
        """
        params = {"list-type": "2", "prefix": prefix, "max-keys": str(max_keys), "encoding-type": "url"}
        if continuation:
            params["continuation-token"] = continuation
        response = self._endpoint.send(
            "GET", self._endpoint.path(bucket), {}, query=canonical_query(params), operation="ListObjectsV2"
        )
        complete = False
        try:
            body = response.read(LIST_BODY_MAX + 1, decode_content=True)
            complete = True
        finally:
            release(response, complete=complete)
        if len(body) > LIST_BODY_MAX:
            raise StorageError(f"the listing of {bucket}/{prefix} is larger than {LIST_BODY_MAX} bytes per page")
        return parse_listing(body)

    def read(self, loc: ObjectLocation, *, max_bytes: int | None = None) -> bytes:
        """The whole object in memory, at most ``max_bytes`` (default: the ``max_declared_bytes`` default ceiling).

        The bound holds whatever the content type and whether or not a length is announced: a longer announced
        length is refused before the body is read, a longer body as soon as its bytes pass the bound.

        Raises:
            DeclaredSizeError: the object is (or announces itself) longer than ``max_bytes``.
            botocore.exceptions.ClientError: the storage answered with a status >= 300.
            urllib3.exceptions.HTTPError: the connection failed, timed out, or the body was cut short.
        """
        from polaris.limits import check_declared

        response = self.get(loc)
        complete = False
        what = f"the object {loc.key!r}"
        try:
            announced = _announced_length(response)
            if announced is not None:
                check_declared(f"the length of {what}", announced, max_bytes=max_bytes)
            parts: list[bytes] = []
            got = 0
            while block := response.read(STREAM_CHUNK_SIZE, decode_content=False):
                got += len(block)
                check_declared(f"the body of {what}", got, max_bytes=max_bytes)
                parts.append(block)
            complete = True
            return b"".join(parts)
        finally:
            release(response, complete=complete)

    def read_hashed(
        self, loc: ObjectLocation, *, size_hint: int | None = None, max_bytes: int | None = None
    ) -> tuple[memoryview, str]:
        """The whole object in one buffer, and the md5 (hex) of exactly those bytes, computed as they arrived.

        The buffer is allocated once, sized from the answer's ``Content-Length``, but never larger up front than
        ``size_hint`` (the size the caller expects, when it knows it) or :data:`PREALLOCATE_MAX`: a server
        announcing a huge length cannot make the client reserve it; a body that really is longer grows the buffer
        (doubling) as its bytes arrive, up to ``max_bytes`` (default: the default ``max_declared_bytes`` ceiling),
        whatever the answer announced. The result is a read-only view of exactly the body.

        Raises:
            DeclaredSizeError: the body is (or announces itself) longer than ``max_bytes``.
            botocore.exceptions.ClientError: the storage answered with a status >= 300 (at most
                :data:`ERROR_BODY_MAX` of its body is read).
            urllib3.exceptions.IncompleteRead: the body ended before its announced ``Content-Length``
                (transient: the session's retry loop tries again).
            urllib3.exceptions.HTTPError: the connection failed, broke or timed out.
        """
        response = self.get(loc)
        complete = False
        try:
            data, md5 = _read_all_hashed(response, self._endpoint.pool, loc.key, size_hint, max_bytes)
            complete = True
            return data, md5
        finally:
            release(response, complete=complete)


MAP_MIN = 1024 * 1024
"""Buffers from this size on are anonymous memory maps (see :func:`_allocate`)."""


def _announced_length(response: BaseHTTPResponse) -> int | None:
    """The body length the answer announced (``None``: chunked or unannounced, read to the end)."""
    from urllib3.exceptions import ProtocolError

    if "chunked" in str(response.headers.get("Transfer-Encoding") or "").lower():
        return None
    value = response.headers.get("Content-Length")
    if value is None:
        return None
    text = str(value).strip()
    if not text.isdigit() or len(text) > 18:
        raise ProtocolError(f"invalid Content-Length {text[:40]!r} in a storage answer")
    return int(text)


def _allocate(size: int) -> memoryview:
    """A writable buffer of ``size`` bytes (see the module notes for why not a NumPy array).

    From :data:`MAP_MIN` bytes on, an anonymous memory map: the kernel hands out zeroed pages as ``recv_into``
    first writes them, with the GIL released, where ``bytearray(size)`` zero-fills every page first while holding
    it (measured: half of the GIL time of a 128 MiB read into memory). Freed when the last view goes.
    """
    if size >= MAP_MIN:
        return memoryview(mmap.mmap(-1, size))
    return memoryview(bytearray(size))


def _read_all_hashed(
    response: BaseHTTPResponse, pool: Any, what: str, size_hint: int | None, max_bytes: int | None = None
) -> tuple[memoryview, str]:
    from urllib3.exceptions import IncompleteRead, ProtocolError, ReadTimeoutError

    from polaris.limits import DEFAULT_MAX_DECLARED_BYTES, check_declared

    ceiling = DEFAULT_MAX_DECLARED_BYTES if max_bytes is None else max_bytes
    announced = _announced_length(response)
    if announced is not None:
        check_declared(f"the length of the object {what!r}", announced, max_bytes=ceiling)
    cap = PREALLOCATE_MAX if size_hint is None else max(0, size_hint)
    view = _allocate(max(1, min(announced, cap) if announced is not None else min(GROW_MIN, cap)))
    # Straight from the socket into the buffer (http.client's readinto -> recv_into). urllib3's own readinto reads
    # into a fresh ``bytes`` and copies; its exception mapping is redone below.
    raw = getattr(response, "_fp", None)
    readinto = raw.readinto if isinstance(raw, http.client.HTTPResponse) else response.readinto
    digest = hashlib.md5()
    filled = 0
    try:
        while announced is None or filled < announced:
            if filled == len(view):
                if filled >= ceiling:  # an answer without a length grows the buffer only this far
                    check_declared(f"the body of the object {what!r}", filled + 1, max_bytes=ceiling)
                grown = _allocate(min(_grown(len(view), announced), ceiling))
                grown[:filled] = view[:filled]
                view = grown
            block = view[filled : filled + min(STREAM_CHUNK_SIZE, len(view) - filled)]
            got = readinto(block)
            if not got:
                break
            digest.update(block[:got])
            filled += got
    except TimeoutError as exc:
        raise ReadTimeoutError(pool, what, f"Read timed out. ({exc})") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise ProtocolError(f"Connection broken: {exc!r}", exc) from exc
    if announced is not None and filled < announced:
        raise IncompleteRead(filled, announced - filled)
    # An empty read at the end lets http.client mark an empty body as read too (it does so by itself after the
    # last block of a non-empty one), so the connection goes back to the pool in the same state as after read().
    readinto(view[filled:filled])
    return view[:filled].toreadonly(), digest.hexdigest()


def _grown(current: int, announced: int | None) -> int:
    """The next buffer size: double, but never past the announced length."""
    doubled = max(current * 2, GROW_MIN)
    return doubled if announced is None else min(doubled, announced)


def release(response: BaseHTTPResponse, *, complete: bool) -> None:
    """Give the connection back to the pool when its body was read to the end; close it otherwise."""
    if not complete:
        response.close()
    response.release_conn()

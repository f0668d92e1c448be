"""Reading public objects at the direct ``http(s)`` URLs a 0.13-era Hub puts in its answers (facts 0.11-0.13, 8).

No Hub token and no storage token is ever sent: these requests go through their own httpx client without auth.
A file is read with ``HEAD`` (its size) and one ranged ``GET`` (``Range: bytes=0-<size-1>``, a ``206`` with a
matching ``Content-Range`` or a body of exactly that size is accepted). Redirects are followed only to the same
scheme, host and port; anything else is refused (a redirect must not carry our requests elsewhere). Every file is
hashed while it streams and compared with the checksum the Hub announced before anything is handed out.

A Zarr archive behind a URL cannot be listed: its keys come from a manifest when there is one, else from its
consolidated metadata (``.zmetadata``, Zarr format 2), where a chunk that answers ``404`` is a missing chunk.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

from polaris import checksum
from polaris.errors import ArtifactNotFoundError, PolarisError, StorageError

__all__ = [
    "DIRECT_MAX_WORKERS",
    "MAX_SAME_HOST_REDIRECTS",
    "METADATA_MAX_BYTES",
    "DirectReader",
    "DirectSession",
    "is_direct_url",
    "zarr_v2_keys",
]

logger = logging.getLogger(__name__)

#: Same-host redirects followed for one object before giving up.
MAX_SAME_HOST_REDIRECTS = 5
#: Parallel object reads of one Zarr archive.
DIRECT_MAX_WORKERS = 8
#: Largest ``.zmetadata`` read (a JSON document parsed in memory, so far below the ceiling: the Hub's JSON cap).
METADATA_MAX_BYTES = 64 * 1024 * 1024
#: Bytes handed to the hash and the file at a time.
_STREAM_CHUNK = 1024 * 1024
_INCOMPLETE = ".incomplete"


def is_direct_url(value: Any) -> bool:
    """True for an ``http://`` or ``https://`` URL (what a direct answer field holds)."""
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _join(base: str, key: str) -> str:
    return base.rstrip("/") + "/" + key.lstrip("/")


def _itemsize(dtype: Any) -> int:
    """Bytes per element of a Zarr v2 ``dtype`` (1 when it cannot be parsed: the count alone is then bounded)."""
    import numpy as np

    try:
        return max(1, int(np.dtype(dtype if isinstance(dtype, str) else [tuple(f) for f in dtype]).itemsize))
    except Exception:
        return 1


def _plain(url: str) -> str:
    """``url`` without its query (presigned URLs carry credentials there)."""
    return url.split("?", 1)[0]


def _safe_key(key: str) -> PurePosixPath:
    path = PurePosixPath(key)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise StorageError(f"refusing the object key {key!r} (it leaves the archive)")
    return path


def zarr_v2_keys(
    zmetadata: Mapping[str, Any], *, max_bytes: int | None = None, artifact: str | None = None
) -> list[str]:
    """Every key of a consolidated Zarr format 2 archive: metadata documents and all chunk keys of its arrays.

    The number of chunk keys the document declares is counted first (from the shapes and chunk grids, without
    enumerating them) and bounded by the ``max_declared_bytes`` ceiling at ``KEY_COST_BYTES`` a key, and every
    chunk must fit the ceiling once decoded: a ``.zmetadata`` declaring 3e8 chunks is refused, not listed.

    Raises:
        StorageError: the document is not consolidated Zarr v2 metadata.
        DeclaredSizeError: more chunk keys, or a larger chunk, than the ceiling allows.
    """
    from polaris.limits import check_count, check_declared

    meta = zmetadata.get("metadata")
    if not isinstance(meta, Mapping):
        raise StorageError("the archive's .zmetadata has no 'metadata' object (not consolidated Zarr format 2)")
    grids: list[tuple[str, list[int], str]] = []
    total = 1 + len(meta)
    for key, doc in sorted(meta.items()):
        if not str(key).endswith(".zarray") or not isinstance(doc, Mapping):
            continue
        prefix = str(key)[: -len(".zarray")]
        try:
            shape = [int(n) for n in doc.get("shape") or []]
            chunks = [int(n) for n in doc.get("chunks") or []]
        except (TypeError, ValueError) as exc:
            raise StorageError(f"the .zmetadata entry {key!r} has a shape or chunk grid that is not integers") from exc
        if len(chunks) != len(shape) or any(n < 0 for n in shape) or any(c <= 0 for c in chunks):
            raise StorageError(f"the .zmetadata entry {key!r} declares shape {shape[:8]} with chunks {chunks[:8]}")
        check_declared(f"{prefix.rstrip('/') or '/'} chunk of {chunks[:8]}", math.prod(chunks), max_bytes=max_bytes,
                       item_bytes=_itemsize(doc.get("dtype")), artifact=artifact)  # fmt: skip
        counts = [math.ceil(s / c) for s, c in zip(shape, chunks, strict=True)]
        n_chunks = math.prod(counts) if shape else 1
        total += n_chunks
        check_count("the chunk keys of .zmetadata", total, max_bytes=max_bytes, artifact=artifact)
        grids.append((prefix, counts, str(doc.get("dimension_separator") or ".")))
    keys = [".zmetadata", *sorted(str(k) for k in meta)]
    for prefix, counts, sep in grids:
        if not counts:
            keys.append(prefix + "0")
            continue
        for idx in itertools.product(*(range(n) for n in counts)):
            keys.append(prefix + sep.join(str(i) for i in idx))
    return keys


class DirectReader:
    """Reads objects at direct URLs, anonymously.

    Args:
        verify: TLS verification for httpx (``True``, ``False`` or a CA bundle path).
        timeout: httpx timeout.
        transport: httpx transport (the client's retrying transport by default).
        max_workers: parallel reads of one Zarr archive.
        max_bytes: the ``max_declared_bytes`` ceiling: no object is read past it, whatever its content type, and
            a ``.zmetadata`` may not declare more keys than it allows.
    """

    def __init__(
        self,
        *,
        verify: Any = True,
        timeout: Any = None,
        transport: httpx.BaseTransport | None = None,
        max_workers: int = DIRECT_MAX_WORKERS,
        max_bytes: int | None = None,
    ) -> None:
        from polaris.hub._transport import RetryTransport
        from polaris.limits import DEFAULT_MAX_DECLARED_BYTES

        self.max_workers = max_workers
        self.max_bytes = DEFAULT_MAX_DECLARED_BYTES if max_bytes is None else int(max_bytes)
        self.http = httpx.Client(
            timeout=timeout if timeout is not None else httpx.Timeout(10.0, read=200.0),
            transport=transport if transport is not None else RetryTransport(httpx.HTTPTransport(verify=verify)),
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> DirectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ one request
    def _send(self, method: str, url: str, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """Send without auth, following redirects to the same origin only; the response is streamed."""
        current = httpx.URL(url)
        if current.scheme not in ("http", "https"):
            raise StorageError(f"refusing to read {url!r}: only http(s) URLs are read directly")
        start = _origin(current)
        for _ in range(MAX_SAME_HOST_REDIRECTS + 1):
            request = self.http.build_request(method, current, headers=dict(headers or {}))
            try:
                response = self.http.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise StorageError(f"{method} {current.copy_with(query=None)} failed ({type(exc).__name__})") from exc
            if response.is_redirect:
                location = response.headers.get("location", "")
                response.close()
                target = current.join(location)
                if _origin(target) != start:
                    raise StorageError(
                        f"{method} {current.copy_with(query=None)} redirected to another host ({target.host}); refused"
                    )
                current = target
                continue
            return response
        raise StorageError(f"{method} {url}: too many redirects")

    def _fail(self, response: httpx.Response, what: str, artifact: str) -> PolarisError:
        status = response.status_code
        url = response.request.url.copy_with(query=None)
        response.close()
        if status in (401, 403, 404):
            return ArtifactNotFoundError(
                f"{what} of {artifact or 'the artifact'} cannot be read at {url}",
                status_code=status,
                hint="The object is not public, or it is gone. Log in (`polaris login`) to read it through the Hub.",
            )
        return StorageError(f"{what} of {artifact or 'the artifact'}: GET {url} answered HTTP {status}")

    def size(self, url: str, *, artifact: str = "") -> int | None:
        """``Content-Length`` from a ``HEAD`` (``None`` when the server does not say).

        Raises:
            ArtifactNotFoundError: 401/403/404. StorageError: any other failure.
        """
        response = self._send("HEAD", url)
        try:
            if response.status_code in (405, 501):
                return None
            if not response.is_success:
                raise self._fail(response, "the object", artifact)
            length = response.headers.get("content-length")
            return int(length) if length is not None and length.isdigit() else None
        finally:
            response.close()

    @contextmanager
    def _open(self, url: str, *, artifact: str) -> Iterator[tuple[httpx.Response, int | None]]:
        """HEAD for the size, then one ranged GET of the whole object; yields the response and the size."""
        size = self.size(url, artifact=artifact)
        headers = {"Range": f"bytes=0-{size - 1}"} if size else {}
        response = self._send("GET", url, headers)
        try:
            if not response.is_success:
                raise self._fail(response, "the object", artifact)
            if response.status_code == 206 and size:
                content_range = response.headers.get("content-range", "")
                if not content_range.startswith(f"bytes 0-{size - 1}/"):
                    raise StorageError(f"GET {url}: unexpected Content-Range {content_range!r}")
            yield response, size
        finally:
            response.close()

    def _stream_to(
        self, url: str, sink: Any, *, artifact: str, max_bytes: int | None = None, why: str | None = None
    ) -> tuple[str, int]:
        """Stream the object into ``sink``; into memory (``max_bytes`` given) at most that many bytes, never more
        than the ceiling, whatever its content type. To a file the announced length bounds it. ``why`` says where
        a ``max_bytes`` below the ceiling comes from."""
        import sys

        from polaris.limits import check_declared

        limit = sys.maxsize if max_bytes is None else min(int(max_bytes), self.max_bytes)
        if limit == self.max_bytes:
            why = None
        elif why is None:
            why = "the size the artifact declares for it"
        md5 = hashlib.md5()
        n = 0
        with self._open(url, artifact=artifact) as (response, size):
            if size is not None:
                check_declared(f"the length of {_plain(url)}", size, max_bytes=limit, artifact=artifact or None,
                               reason=why)  # fmt: skip
            for chunk in response.iter_bytes(_STREAM_CHUNK):
                n += len(chunk)
                if n > limit:  # no length announced (or a wrong one): the body is still read with a limit
                    check_declared(f"the body of {_plain(url)}", n, max_bytes=limit, artifact=artifact or None,
                                   reason=why)  # fmt: skip
                md5.update(chunk)
                sink(chunk)
                if size is not None and n > size:
                    raise StorageError(f"GET {url}: more bytes than the {size} announced")
            if size is not None and n != size:
                raise StorageError(f"GET {url}: {n} bytes received, {size} announced")
        return md5.hexdigest(), n

    # ------------------------------------------------------------------ files
    def read_bytes(
        self,
        url: str,
        *,
        expected_md5: str | None = None,
        artifact: str = "",
        max_bytes: int | None = None,
        why: str | None = None,
    ) -> bytes:
        """The whole object, checked against ``expected_md5`` before it is returned.

        At most ``max_bytes`` (never more than the reader's ceiling) are read, whatever the content type and
        whether or not the answer announces a length.

        Raises:
            DeclaredSizeError: the object is (or announces itself) longer than ``max_bytes`` / the ceiling.
            PolarisChecksumError: the bytes differ from ``expected_md5``.
            ArtifactNotFoundError: the object is not public (401/403) or missing (404).
            StorageError: any other failure (a redirect to another host included).
        """
        parts: list[bytes] = []
        limit = self.max_bytes if max_bytes is None else max_bytes
        digest, _ = self._stream_to(url, parts.append, artifact=artifact, max_bytes=limit, why=why)
        if expected_md5 is not None:
            checksum.verify_md5(expected_md5, digest, artifact=artifact or url)
        return b"".join(parts)

    def download_file(self, url: str, dest: Path, *, expected_md5: str | None = None, artifact: str = "") -> Path:
        """Stream the object into ``dest`` (through ``dest.incomplete``), verified against ``expected_md5``.

        Raises: as :meth:`read_bytes`; nothing is left at ``dest`` on failure.
        """
        dest = Path(dest)
        tmp = dest.with_name(dest.name + _INCOMPLETE)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(tmp, "wb") as fh:
                digest, _ = self._stream_to(url, fh.write, artifact=artifact)
            if expected_md5 is not None:
                checksum.verify_md5(expected_md5, digest, artifact=artifact or url, chunk=dest.name)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return dest

    # ------------------------------------------------------------------ Zarr
    def _get_optional(
        self, url: str, target: Path, expected: str | None, artifact: str, key: str, *, declared: int | None = None
    ) -> bool:
        """Plain GET of one Zarr key into ``target``; ``False`` when it answers 404 (a missing chunk).

        The body may take at most ``declared`` bytes (the size the artifact declares for the key) and the ceiling:
        an announced length beyond it is refused before a byte is read, a longer body as soon as it gets there.
        """
        response = self._send("GET", url)
        try:
            if response.status_code == 404 and expected is None:
                return False
            if not response.is_success:
                raise self._fail(response, f"Zarr key {key!r}", artifact)
            from polaris.limits import check_declared

            limit = self.max_bytes if declared is None else min(int(declared), self.max_bytes)
            why = "the size the artifact declares for it" if limit < self.max_bytes else None
            announced = response.headers.get("content-length")
            if announced is not None and announced.isdigit():
                check_declared(f"the length of Zarr key {key!r}", int(announced), max_bytes=limit,
                               artifact=artifact or None, reason=why)  # fmt: skip
            md5 = hashlib.md5()
            n = 0
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                for chunk in response.iter_bytes(_STREAM_CHUNK):
                    n += len(chunk)
                    if n > limit:
                        check_declared(f"the body of Zarr key {key!r}", n, max_bytes=limit,
                                       artifact=artifact or None, reason=why)  # fmt: skip
                    md5.update(chunk)
                    fh.write(chunk)
        finally:
            response.close()
        if expected is not None:
            checksum.verify_md5(expected, md5.hexdigest(), artifact=artifact or url, chunk=key)
        return True

    def zarr_keys(self, root_url: str, *, artifact: str = "") -> list[str]:
        """Keys of the archive at ``root_url`` from its consolidated metadata.

        Raises:
            StorageError: no readable ``.zmetadata``.
        """
        raw = self.read_bytes(
            _join(root_url, ".zmetadata"),
            artifact=artifact,
            max_bytes=METADATA_MAX_BYTES,
            why=f"the {METADATA_MAX_BYTES} bytes a JSON metadata document may take",
        )
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise StorageError(f"the .zmetadata of {artifact or root_url} is not JSON") from exc
        return zarr_v2_keys(doc, max_bytes=self.max_bytes, artifact=artifact or None)

    def download_zarr(
        self,
        root_url: str,
        dest: Path,
        *,
        manifest: Mapping[str, str] | None = None,
        keys: Iterable[str] | None = None,
        artifact: str = "",
        sizes: Mapping[str, int] | None = None,
    ) -> Path:
        """Copy the archive at ``root_url`` into ``dest`` (through ``dest.incomplete``).

        With ``manifest`` (key -> md5 hex) exactly those keys are read and each is verified; otherwise ``keys``,
        else the keys named by the consolidated metadata (chunks answering 404 are missing chunks). ``sizes``
        (key -> bytes, what the artifact declares) bounds each object's body, as the ceiling bounds every one.

        Raises:
            PolarisChecksumError: a key differs from the manifest (nothing is left at ``dest``).
            ArtifactNotFoundError: the archive is not public. StorageError: any other failure.
        """
        import shutil

        dest = Path(dest)
        if manifest is not None:
            wanted = sorted(manifest)
        elif keys is not None:
            wanted = sorted(set(keys))
        else:
            wanted = self.zarr_keys(root_url, artifact=artifact)
        tmp = dest.with_name(dest.name + _INCOMPLETE)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)

        def one(key: str) -> bool:
            target = tmp.joinpath(*_safe_key(key).parts)
            expected = manifest.get(key) if manifest is not None else None
            declared = sizes.get(key) if sizes is not None else None
            return self._get_optional(_join(root_url, key), target, expected, artifact, key, declared=declared)

        try:
            with ThreadPoolExecutor(self.max_workers, thread_name_prefix="polaris-direct") as pool:
                found = sum(1 for ok in pool.map(one, wanted) if ok)
            if not (tmp / ".zmetadata").exists() and not (tmp / ".zgroup").exists():
                raise StorageError(f"no Zarr archive at {root_url}")
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info("read %d Zarr objects of %s over direct URLs", found, artifact or root_url)
        return dest


class _DirectPaths:
    def __init__(self, paths: Mapping[str, str]) -> None:
        self.paths = dict(paths)


class DirectSession:
    """Stands in for a read :class:`~polaris.hub.storage.StorageSession` when the data is read over direct URLs.

    ``token.paths`` holds the direct URLs; downloads verify exactly as a storage session does.
    """

    def __init__(self, reader: DirectReader, paths: Mapping[str, str]) -> None:
        self.reader = reader
        self.token = _DirectPaths(paths)

    def download_file(
        self, url: str, dest: Path, *, expected_md5: str | None = None, artifact: str = "", **_: Any
    ) -> Path:
        return self.reader.download_file(url, dest, expected_md5=expected_md5, artifact=artifact)

    def download_zarr(
        self,
        store_url: str,
        dest: Path,
        *,
        manifest: dict[str, str] | None = None,
        artifact: str = "",
        sizes: Mapping[str, int] | None = None,
        **_: Any,
    ) -> Path:
        return self.reader.download_zarr(store_url, dest, manifest=manifest, artifact=artifact, sizes=sizes)

    def read_bytes(self, url: str, *, max_bytes: int | None = None) -> bytes:
        return self.reader.read_bytes(url, max_bytes=max_bytes)

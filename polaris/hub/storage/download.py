"""Downloads (streaming each object to disk while hashing it; resumable), listing and HEAD.

GETs go through the transport's :class:`~polaris.hub.storage.reader.ObjectReader` (botocore's SigV4 signer over
urllib3, no redirects, idle-read timeout); listing and HEAD through boto3. Not obstore: obstore (reqwest) follows
a redirect to another host and sends the transport token (``x-amz-security-token``) there, and it cannot be told
not to. Credentials only ever go to the endpoint the Hub named; a slow but steady object never hits a deadline.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polaris.errors import PolarisChecksumError, StorageError
from polaris.hub.storage._util import bounded_map, remove, safe_relative
from polaris.hub.storage.classify import ObjectMissing
from polaris.hub.storage.constants import (
    INCOMPLETE_SUFFIX,
    LIST_PAGE_SIZE,
    MAX_LIST_PAGES,
    MD5_METADATA_KEY,
    STREAM_CHUNK_SIZE,
)
from polaris.hub.storage.progress import Progress
from polaris.hub.storage.reader import ListPage, release
from polaris.hub.storage.tokens import ObjectLocation, parse_url

if TYPE_CHECKING:
    from polaris.hub.storage.transport import Transport

__all__ = [
    "ObjectInfo",
    "download_file",
    "download_zarr",
    "exists",
    "get_to_file",
    "head",
    "list_objects",
    "read_bytes",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD tells about a stored object."""

    size: int
    etag: str
    md5: str | None
    """The ``md5sum`` metadata our uploads set (hex md5 of the whole object), when present."""

    def stored_md5(self) -> str | None:
        """The object's md5: its ``md5sum`` metadata, else a single-part ETag (which is the md5 itself)."""
        if self.md5:
            return self.md5.lower()
        if len(self.etag) == 32 and "-" not in self.etag:
            return self.etag.lower()
        return None


def head(transport: Transport, loc: ObjectLocation) -> ObjectInfo | None:
    """Size, ETag and stored md5 (``x-amz-meta-md5sum``) of an object; ``None`` when there is none.

    Raises:
        StorageError: the storage could not be reached or refused the request.
    """

    def attempt() -> tuple[int, ObjectInfo]:
        generation, reader = transport.reader()
        headers = reader.head(loc)
        return generation, ObjectInfo(
            size=int(headers.get("content-length") or 0),
            etag=str(headers.get("etag") or "").strip('"'),
            md5=headers.get(f"x-amz-meta-{MD5_METADATA_KEY}"),
        )

    try:
        return transport.call(f"HEAD {loc.bucket}/{loc.key}", attempt)
    except ObjectMissing:
        return None


def exists(transport: Transport, url: str) -> bool:
    """Whether an object exists at ``url``.

    Raises:
        StorageError: the storage could not be reached or refused the request.
    """
    return head(transport, parse_url(url)) is not None


def read_bytes(transport: Transport, url: str, *, max_bytes: int | None = None) -> bytes:
    """The whole object at ``url``, in memory, at most ``max_bytes`` (use :meth:`download_file` for big objects).

    Raises:
        DeclaredSizeError: the object is longer than ``max_bytes`` (default: the default ceiling).
        StorageError: missing object, or the storage could not be reached.
    """
    loc = parse_url(url)

    def attempt() -> tuple[int, bytes]:
        generation, reader = transport.reader()
        return generation, reader.read(loc, max_bytes=max_bytes)

    try:
        return transport.call(f"GET {loc.bucket}/{loc.key}", attempt)
    except ObjectMissing:
        raise StorageError(f"no object at {url}") from None


def download_file(
    transport: Transport, url: str, dest: Path, *, expected_md5: str | None = None, artifact: str = ""
) -> Path:
    """Stream the object at ``url`` to ``dest`` (via ``dest.incomplete``, renamed when complete and verified).

    An interrupted download keeps ``dest.incomplete``; the next attempt (a retry, or a later call) continues it with
    a ranged GET and verifies the whole file.

    Raises:
        PolarisChecksumError: ``expected_md5`` given and the bytes differ; nothing is left at ``dest``.
        StorageError: missing object, or the storage could not be reached.
    """
    loc = parse_url(url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + INCOMPLETE_SUFFIX)
    with Progress(transport.progress, f"download {dest.name}", None) as bar:
        try:
            get_to_file(transport, loc, tmp, expected_md5, artifact, None, bar)
        except ObjectMissing:
            remove(tmp)
            raise StorageError(f"no object at {url}") from None
    os.replace(tmp, dest)
    return dest


def _md5_prefix(path: Path) -> tuple[Any, int]:
    digest = hashlib.md5()
    size = 0
    with contextlib.suppress(FileNotFoundError), path.open("rb") as fh:
        while block := fh.read(STREAM_CHUNK_SIZE):
            digest.update(block)
            size += len(block)
    return digest, size


def get_to_file(
    transport: Transport,
    loc: ObjectLocation,
    tmp: Path,
    expected_md5: str | None,
    artifact: str,
    chunk: str | None,
    bar: Progress,
    *,
    size: int | None = None,
    fresh: bool = False,
) -> int:
    """GET one object into ``tmp`` while hashing it. Returns its size.

    Bytes already in ``tmp`` (an earlier, interrupted attempt) are kept and the rest is fetched with a ranged GET
    (``If-Match`` the ETag seen first, so the pieces come from one version); the whole file is then verified. A
    checksum mismatch deletes ``tmp``; any other failure keeps it for the next attempt.
    """
    seen_etag: list[str] = []
    known_empty = [fresh]  # ``fresh``: the caller knows no earlier attempt left bytes in ``tmp`` (skip reading it)

    def attempt() -> tuple[int, int]:
        generation, reader = transport.reader()
        digest, have = (hashlib.md5(), 0) if known_empty[0] else _md5_prefix(tmp)
        known_empty[0] = False  # a failed attempt may leave bytes behind
        try:
            answer = reader.get(loc, start=have, if_match=seen_etag[0] if have and seen_etag else None)
        except Exception as exc:
            if have and _status_of(exc) in (412, 416):
                # the object changed, or our partial copy is already as long as it (or longer): start over
                logger.info("restarting the download of %s/%s from the beginning", loc.bucket, loc.key)
                remove(tmp)
                seen_etag.clear()
                return attempt()
            raise
        etag = answer.headers.get("ETag")
        if not seen_etag and etag:
            seen_etag.append(str(etag))
        ranged = str(answer.headers.get("Content-Range") or "").startswith(f"bytes {have}-")
        if have and not ranged:  # the server ignored the range: the body is the whole object
            digest, have = hashlib.md5(), 0
        if have:
            logger.info("continuing the download of %s/%s at byte %d", loc.bucket, loc.key, have)
        written = 0
        complete = False
        try:
            with tmp.open("ab" if have else "wb") as fh:
                for block in answer.stream(STREAM_CHUNK_SIZE, decode_content=False):
                    digest.update(block)
                    fh.write(block)
                    written += len(block)
                    bar.advance(len(block))
            complete = True
        finally:
            release(answer, complete=complete)
        if expected_md5 is not None and digest.hexdigest() != expected_md5.lower():
            tmp.unlink(missing_ok=True)
            raise PolarisChecksumError(
                "downloaded data does not match its checksum",
                artifact=artifact or None,
                chunk=chunk or loc.key,
                expected=expected_md5.lower(),
                actual=digest.hexdigest(),
            )
        return generation, have + written

    # held in memory at once: one streamed block (``size``, when known, is what the GET moves)
    cost = STREAM_CHUNK_SIZE if size is None else min(size, STREAM_CHUNK_SIZE)
    return transport.call(f"GET {loc.bucket}/{loc.key}", attempt, cost=cost, nbytes=size or 0)


def _status_of(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return 0
    return int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)


def list_objects(transport: Transport, store_url: str) -> list[tuple[str, int]]:
    """(relative key, size) of every object under the store URL's prefix, sorted by key.

    Raises:
        StorageError: the storage could not be reached or refused the listing.
    """
    store_loc = parse_url(store_url)
    prefix = store_loc.key.rstrip("/") + "/"
    found: list[tuple[str, int]] = []
    token: str | None = None
    for _ in range(MAX_LIST_PAGES):

        def attempt(token: str | None = token) -> tuple[int, ListPage]:
            generation, reader = transport.reader()
            return generation, reader.list_page(store_loc.bucket, prefix, token, LIST_PAGE_SIZE)

        try:
            page = transport.call(f"LIST {store_loc.bucket}/{prefix}", attempt)
        except ObjectMissing:
            return []
        found.extend((key[len(prefix) :], size) for key, size in page.objects if key.startswith(prefix))
        token = page.next_token
        if token is None:
            return sorted(found)
    raise StorageError(
        f"the listing of {store_url} did not end after {MAX_LIST_PAGES} pages",
        hint="The storage keeps answering with more pages; report it to the Hub's operators.",
    )


def download_zarr(
    transport: Transport,
    store_url: str,
    dest: Path,
    *,
    manifest: dict[str, str] | None = None,
    artifact: str = "",
    digests: dict[str, tuple[str, int]] | None = None,
    sizes: Mapping[str, int] | None = None,
    max_bytes: int | None = None,
) -> Path:
    """Download every object under ``store_url`` into the folder ``dest``.

    Before anything is fetched, each listed object's size is checked: at most what ``sizes`` (relative path ->
    bytes, e.g. a V1 ``zarrContent``'s sizes) declares for it, and at most ``max_bytes`` (the
    ``max_declared_bytes`` ceiling; default :data:`polaris.limits.DEFAULT_MAX_DECLARED_BYTES`).

    ``digests`` receives relative path -> (md5 hex, size) of every object verified against ``manifest`` on the way
    in, so the archive's checksum can be computed without reading the files again.

    Written into ``dest.incomplete`` and renamed to ``dest`` when everything arrived (an existing ``dest`` is
    replaced). Objects an interrupted run completed are kept, partial ones continued with ranged GETs. With
    ``manifest`` (relative path -> md5 hex) each object is verified while streaming.

    Raises:
        DeclaredSizeError: a listed object is larger than ``sizes`` declares or than ``max_bytes`` (nothing is
            fetched).
        PolarisChecksumError: an object differs from the manifest or a manifest entry is missing remotely;
            names the artifact and chunk; nothing is left at ``dest``.
        StorageError: nothing under ``store_url``, or the storage could not be reached (what arrived is kept
            in ``dest.incomplete`` and the next call continues from there).
    """
    from polaris.limits import check_at_most, check_declared

    dest = Path(dest)
    store = parse_url(store_url)
    objects = list_objects(transport, store_url)
    if not objects:
        raise StorageError(f"no objects under {store_url}")
    for name, size in objects:  # the listing's sizes are claims too: bounded before any byte is fetched
        field = f"the listed size of the object {name!r}"
        declared = sizes.get(name) if sizes is not None else None
        if declared is not None:
            check_at_most(field, size, declared, by=f"the {declared} bytes the manifest declares for it",
                          artifact=artifact or None)  # fmt: skip
        check_declared(field, size, max_bytes=max_bytes, artifact=artifact or None)
    listed = {name for name, _ in objects}
    if manifest is not None:
        missing = sorted(set(manifest) - listed)
        if missing:
            raise PolarisChecksumError(
                f"{len(missing)} object(s) of the manifest are missing from storage",
                artifact=artifact or None,
                chunk=missing[0],
            )
        extra = sorted(listed - set(manifest))
        if extra:
            logger.warning(
                "%d object(s) under %s are not in the manifest (not verified): %s",
                len(extra),
                store_url,
                ", ".join(extra[:5]),
            )
    tmp = dest.with_name(dest.name + INCOMPLETE_SUFFIX)
    fresh = not tmp.exists()  # nothing to continue: no per-object checks for what an earlier run left
    tmp.mkdir(parents=True, exist_ok=True)  # what an interrupted run left is continued, not discarded
    sizes = dict(objects)
    if not fresh:
        _drop_strays(tmp, sizes)
    targets = {name: tmp.joinpath(*safe_relative(name, store_url).parts) for name, _ in objects}
    for folder in {target.parent for target in targets.values()}:  # once per folder, not once per object
        folder.mkdir(parents=True, exist_ok=True)
    total = sum(size for _, size in objects)
    try:
        with Progress(transport.progress, f"download {dest.name}", total) as bar:

            def one(item: tuple[str, int]) -> int:
                name, size = item
                target = targets[name]
                expected = manifest.get(name) if manifest is not None else None
                if not fresh and _already_there(target, size, expected):
                    bar.advance(size)
                    if digests is not None and expected is not None:
                        digests[name] = (expected.lower(), size)
                    return size
                part = target.with_name(target.name + INCOMPLETE_SUFFIX)
                try:
                    got = get_to_file(
                        transport, store.child(name), part, expected, artifact, name, bar, size=size, fresh=fresh
                    )
                except ObjectMissing:
                    raise StorageError(f"object {name} vanished from {store_url} during the download") from None
                os.replace(part, target)
                if digests is not None and expected is not None:
                    digests[name] = (expected.lower(), got)  # verified while streaming
                return got

            with ThreadPoolExecutor(transport.cap, thread_name_prefix="polaris-download") as pool:
                results = bounded_map(pool, one, objects, lambda: transport.limit.limit)
                for _, future in results:
                    exc = future.exception()
                    if exc is not None:
                        results.close()
                        raise exc
        if dest.exists():
            remove(dest)
        os.replace(tmp, dest)
    except PolarisChecksumError:
        remove(tmp)  # corrupt data is never kept, not even to resume from
        raise
    logger.info("downloaded %d objects (%d bytes) from %s", len(objects), total, store_url)
    return dest


def _already_there(target: Path, size: int, expected_md5: str | None) -> bool:
    """A file an interrupted run completed: right size and, with a manifest, right md5."""
    try:
        if not target.is_file() or target.stat().st_size != size:
            return False
    except OSError:
        return False
    if expected_md5 is None:
        return True
    digest, _ = _md5_prefix(target)
    return bool(digest.hexdigest() == expected_md5.lower())


def _drop_strays(tmp: Path, sizes: dict[str, int]) -> None:
    """Remove files of an earlier run that are neither a listed object nor the partial copy of one."""
    for path in list(tmp.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(tmp).as_posix()
        if rel in sizes:
            continue
        if rel.endswith(INCOMPLETE_SUFFIX) and rel[: -len(INCOMPLETE_SUFFIX)] in sizes:
            continue
        path.unlink(missing_ok=True)

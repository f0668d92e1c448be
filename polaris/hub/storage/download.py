"""Downloads, listing and HEAD with obstore's synchronous API, streaming each object to disk while hashing it."""

from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from polaris.errors import PolarisChecksumError, StorageError
from polaris.hub.storage._util import bounded_map, remove, safe_relative
from polaris.hub.storage.classify import ObjectMissing
from polaris.hub.storage.constants import INCOMPLETE_SUFFIX, LIST_PAGE_SIZE, PENDING_PER_WORKER, STREAM_CHUNK_SIZE
from polaris.hub.storage.progress import Progress
from polaris.hub.storage.tokens import ObjectLocation, parse_url

if TYPE_CHECKING:
    from polaris.hub.storage.session import StorageSession

__all__ = ["download_file", "download_zarr", "exists", "list_objects", "read_bytes"]

logger = logging.getLogger(__name__)


def exists(session: StorageSession, url: str) -> bool:
    """Whether an object exists at ``url``.

    Raises:
        StorageError: the storage could not be reached or refused the request.
    """
    loc = parse_url(url)

    def attempt() -> tuple[int, bool]:
        import obstore

        generation, store = session._store(loc.bucket)
        obstore.head(store, loc.key)
        return generation, True

    try:
        return session._call(f"HEAD {loc.bucket}/{loc.key}", attempt)
    except ObjectMissing:
        return False


def read_bytes(session: StorageSession, url: str) -> bytes:
    """The whole object at ``url``, in memory (use :meth:`download_file` for big objects).

    Raises:
        StorageError: missing object, or the storage could not be reached.
    """
    loc = parse_url(url)

    def attempt() -> tuple[int, bytes]:
        import obstore

        generation, store = session._store(loc.bucket)
        return generation, bytes(obstore.get(store, loc.key).bytes())

    try:
        return session._call(f"GET {loc.bucket}/{loc.key}", attempt)
    except ObjectMissing:
        raise StorageError(f"no object at {url}") from None


def download_file(
    session: StorageSession, url: str, dest: Path, *, expected_md5: str | None = None, artifact: str = ""
) -> Path:
    """Stream the object at ``url`` to ``dest`` (via ``dest.incomplete``, renamed when complete and verified).

    Raises:
        PolarisChecksumError: ``expected_md5`` given and the bytes differ; nothing is left at ``dest``.
        StorageError: missing object, or the storage could not be reached.
    """
    loc = parse_url(url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + INCOMPLETE_SUFFIX)
    try:
        with Progress(session.progress, f"download {dest.name}", None) as bar:
            try:
                _get_to_file(session, loc, tmp, expected_md5, artifact, None, bar)
            except ObjectMissing:
                raise StorageError(f"no object at {url}") from None
        os.replace(tmp, dest)
    except BaseException:
        remove(tmp)
        raise
    return dest


def _get_to_file(
    session: StorageSession,
    loc: ObjectLocation,
    tmp: Path,
    expected_md5: str | None,
    artifact: str,
    chunk: str | None,
    bar: Progress,
    sink: dict[str, tuple[str, int]] | None = None,
) -> int:
    """GET one object into ``tmp`` while hashing it; retried from scratch on failure. Returns its size.

    ``sink[chunk]`` receives (md5 hex, size) of what was written, so nobody needs to read the file again to hash it.
    """

    def attempt() -> tuple[int, int]:
        import obstore

        generation, store = session._store(loc.bucket)
        result = obstore.get(store, loc.key)
        digest = hashlib.md5()
        written = 0
        try:
            with tmp.open("wb") as fh:
                for block in result.stream(min_chunk_size=STREAM_CHUNK_SIZE):
                    digest.update(block)
                    fh.write(block)
                    written += len(block)
                    bar.advance(len(block))
        except BaseException:
            bar.advance(-written)
            raise
        if expected_md5 is not None and digest.hexdigest() != expected_md5.lower():
            tmp.unlink(missing_ok=True)
            raise PolarisChecksumError(
                "downloaded data does not match its checksum",
                artifact=artifact or None,
                chunk=chunk or loc.key,
                expected=expected_md5.lower(),
                actual=digest.hexdigest(),
            )
        if sink is not None:
            sink[chunk or loc.key] = (digest.hexdigest(), written)
        return generation, written

    return session._call(f"GET {loc.bucket}/{loc.key}", attempt)


def list_objects(session: StorageSession, store_url: str) -> list[tuple[str, int]]:
    """(relative key, size) of every object under the store URL's prefix, sorted by key.

    Raises:
        StorageError: the storage could not be reached or refused the listing.
    """
    store_loc = parse_url(store_url)
    prefix = store_loc.key.rstrip("/") + "/"

    def attempt() -> tuple[int, list[tuple[str, int]]]:
        import obstore

        generation, store = session._store(store_loc.bucket)
        found: list[tuple[str, int]] = []
        for batch in obstore.list(store, prefix=prefix, chunk_size=LIST_PAGE_SIZE):
            for meta in batch:
                found.append((str(meta["path"])[len(prefix) :], int(meta["size"])))
        return generation, found

    try:
        return sorted(session._call(f"LIST {store_loc.bucket}/{prefix}", attempt))
    except ObjectMissing:
        return []


def download_zarr(
    session: StorageSession,
    store_url: str,
    dest: Path,
    *,
    manifest: dict[str, str] | None = None,
    artifact: str = "",
    digests: dict[str, tuple[str, int]] | None = None,
) -> Path:
    """Download every object under ``store_url`` into the folder ``dest``.

    Written into ``dest.incomplete`` and renamed to ``dest`` when everything arrived (an existing ``dest`` is
    replaced). With ``manifest`` (relative path -> md5 hex) each object is verified while streaming.
    ``digests`` is filled with relative path -> (md5 hex, size) of every object written, computed while streaming.

    Raises:
        PolarisChecksumError: an object differs from the manifest or a manifest entry is missing remotely;
            names the artifact and chunk; nothing is left at ``dest``.
        StorageError: nothing under ``store_url``, or the storage could not be reached.
    """
    dest = Path(dest)
    store = parse_url(store_url)
    objects = session.list_objects(store_url)
    if not objects:
        raise StorageError(f"no objects under {store_url}")
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
    remove(tmp)
    tmp.mkdir(parents=True)
    total = sum(size for _, size in objects)
    try:
        with Progress(session.progress, f"download {dest.name}", total) as bar:

            def one(item: tuple[str, int]) -> int:
                name = item[0]
                target = tmp.joinpath(*safe_relative(name, store_url).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                expected = manifest.get(name) if manifest is not None else None
                try:
                    return _get_to_file(session, store.child(name), target, expected, artifact, name, bar, digests)
                except ObjectMissing:
                    raise StorageError(f"object {name} vanished from {store_url} during the download") from None

            with ThreadPoolExecutor(session.max_workers, thread_name_prefix="polaris-download") as pool:
                results = bounded_map(pool, one, objects, session.max_workers * PENDING_PER_WORKER)
                for _, future in results:
                    exc = future.exception()
                    if exc is not None:
                        results.close()
                        raise exc
        if dest.exists():
            remove(dest)
        os.replace(tmp, dest)
    except BaseException:
        remove(tmp)
        raise
    logger.info("downloaded %d objects (%d bytes) from %s", len(objects), total, store_url)
    return dest

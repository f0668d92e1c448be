"""Uploads: single objects (one PUT, or multipart above the threshold) and whole Zarr archives, with boto3.

Every request carries ``Content-MD5`` (facts §4.4, §7.6) and every object gets metadata ``md5sum``. Zarr chunks go
as one PUT each, streamed from the file (botocore reads a file body block by block), as the reference client does;
standalone files (the Parquet table, the V2 manifest) above ``MULTIPART_THRESHOLD`` go as multipart uploads of
``PART_SIZE`` parts, one part in memory at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from polaris.errors import ArtifactExistsError, ClientClosedError, PartialUploadError
from polaris.hub.storage._util import b64, bounded_map, md5_of
from polaris.hub.storage.classify import PreconditionFailed
from polaris.hub.storage.constants import (
    MD5_METADATA_KEY,
    MULTIPART_THRESHOLD,
    OCTET_STREAM,
    PART_SIZE,
    PENDING_PER_WORKER,
    READ_WHOLE_MAX,
    content_type_for,
)
from polaris.hub.storage.progress import Progress
from polaris.hub.storage.tokens import ObjectLocation, parse_url
from polaris.hub.storage.zarr import prepare_zarr
from polaris.types import ZarrConflictResolution

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

    from polaris.hub.storage.session import StorageSession

__all__ = ["UploadReport", "upload_file", "upload_zarr"]

logger = logging.getLogger(__name__)


@dataclass
class UploadReport:
    """What an upload did: objects sent, objects kept because they already existed, bytes sent."""

    uploaded: int = 0
    skipped: int = 0
    bytes: int = 0

    def add(self, other: UploadReport) -> None:
        self.uploaded += other.uploaded
        self.skipped += other.skipped
        self.bytes += other.bytes


def upload_file(
    session: StorageSession,
    url: str,
    data: bytes | Path,
    *,
    content_type: str | None = None,
    if_exists: ZarrConflictResolution = "replace",
) -> UploadReport:
    """Upload one object: a single PUT up to :data:`MULTIPART_THRESHOLD` bytes, multipart above.

    Every request carries ``Content-MD5``; the object gets metadata ``md5sum`` (hex md5 of all of it).
    ``content_type`` defaults to :func:`content_type_for` the key.

    Raises:
        ArtifactExistsError: ``if_exists="raise"`` and the object already exists (nothing was written).
        StorageError: the storage could not be reached or refused the upload.
    """
    loc = parse_url(url)
    if not isinstance(data, bytes):
        data = Path(data)
    size = len(data) if isinstance(data, bytes) else data.stat().st_size
    with Progress(session.progress, f"upload {PurePosixPath(loc.key).name}", size) as bar:
        return _upload_one(
            session, loc, data, content_type or content_type_for(loc.key), if_exists, bar, multipart=True
        )


def _upload_one(
    session: StorageSession,
    loc: ObjectLocation,
    data: bytes | Path,
    content_type: str,
    if_exists: ZarrConflictResolution,
    bar: Progress,
    *,
    multipart: bool,
    known_md5: str | None = None,
) -> UploadReport:
    if isinstance(data, Path) and data.stat().st_size <= READ_WHOLE_MAX:
        data = data.read_bytes()
    if known_md5 is not None:
        # hashed once already (for the manifest): storage checks Content-MD5, so a file changed since is refused
        md5_hex, size = known_md5, len(data) if isinstance(data, bytes) else data.stat().st_size
    else:
        md5_hex, size = md5_of(data)
    conditional = if_exists in ("skip", "raise")
    try:
        if multipart and size > MULTIPART_THRESHOLD:
            _multipart(session, loc, data, size, md5_hex, content_type, conditional, bar)
        else:
            _put(session, loc, data, size, md5_hex, content_type, conditional, bar)
    except PreconditionFailed:
        if if_exists == "raise":
            raise ArtifactExistsError(f"an object already exists at {loc.bucket}/{loc.key}") from None
        logger.debug("kept existing object %s/%s", loc.bucket, loc.key)
        return UploadReport(skipped=1)
    return UploadReport(uploaded=1, bytes=size)


def _put(
    session: StorageSession,
    loc: ObjectLocation,
    data: bytes | Path,
    size: int,
    md5_hex: str,
    content_type: str,
    conditional: bool,
    bar: Progress,
) -> None:
    def attempt() -> tuple[int, None]:
        generation, s3 = session._boto()
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if conditional else {}
        with contextlib.ExitStack() as stack:
            body: bytes | BinaryIO = data if isinstance(data, bytes) else stack.enter_context(data.open("rb"))
            s3.put_object(
                Bucket=loc.bucket,
                Key=loc.key,
                Body=body,
                ContentLength=size,
                ContentType=content_type,
                ContentMD5=b64(md5_hex),
                Metadata={MD5_METADATA_KEY: md5_hex},
                **extra,
            )
        return generation, None

    session._call(f"PUT {loc.bucket}/{loc.key}", attempt)
    bar.advance(size)


def _multipart(
    session: StorageSession,
    loc: ObjectLocation,
    data: bytes | Path,
    size: int,
    md5_hex: str,
    content_type: str,
    conditional: bool,
    bar: Progress,
) -> None:
    what = f"multipart upload {loc.bucket}/{loc.key}"

    def create() -> tuple[int, str]:
        generation, s3 = session._boto()
        answer = s3.create_multipart_upload(
            Bucket=loc.bucket, Key=loc.key, ContentType=content_type, Metadata={MD5_METADATA_KEY: md5_hex}
        )
        return generation, answer["UploadId"]

    upload_id = session._call(what, create)
    parts: list[CompletedPartTypeDef] = []
    try:
        with contextlib.ExitStack() as stack:
            fh = None if isinstance(data, bytes) else stack.enter_context(data.open("rb"))
            for number, offset in enumerate(range(0, size, PART_SIZE), start=1):
                if isinstance(data, bytes):
                    part = data[offset : offset + PART_SIZE]
                else:
                    assert fh is not None
                    fh.seek(offset)
                    part = fh.read(PART_SIZE)
                part_md5 = hashlib.md5(part).hexdigest()

                def upload_part(part: bytes = part, number: int = number, part_md5: str = part_md5) -> tuple[int, str]:
                    generation, s3 = session._boto()
                    answer = s3.upload_part(
                        Bucket=loc.bucket,
                        Key=loc.key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=part,
                        ContentMD5=b64(part_md5),
                    )
                    return generation, answer["ETag"]

                etag = session._call(f"{what} part {number}", upload_part)
                parts.append({"ETag": etag, "PartNumber": number})
                bar.advance(len(part))

        def complete() -> tuple[int, None]:
            generation, s3 = session._boto()
            extra: dict[str, Any] = {"IfNoneMatch": "*"} if conditional else {}
            s3.complete_multipart_upload(
                Bucket=loc.bucket, Key=loc.key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **extra
            )
            return generation, None

        session._call(f"{what} complete", complete)
    except BaseException:
        _abort(session, loc, upload_id)
        raise


def _abort(session: StorageSession, loc: ObjectLocation, upload_id: str) -> None:
    def abort() -> tuple[int, None]:
        generation, s3 = session._boto()
        s3.abort_multipart_upload(Bucket=loc.bucket, Key=loc.key, UploadId=upload_id)
        return generation, None

    try:
        session._call(f"abort multipart upload {loc.bucket}/{loc.key}", abort)
    except Exception as exc:  # the original failure matters more
        logger.warning("could not abort multipart upload of %s/%s: %s", loc.bucket, loc.key, exc)


def upload_zarr(
    session: StorageSession,
    local_root: Path,
    store_url: str,
    *,
    if_exists: ZarrConflictResolution = "replace",
    digests: Mapping[str, str] | None = None,
) -> UploadReport:
    """Upload every file of a local Zarr archive (format 2 or 3) under ``store_url``.

    ``digests`` (relative path -> md5 hex, e.g. the manifest just computed) are reused for ``Content-MD5`` instead of
    hashing each file again; files not in it are hashed.

    The consolidated metadata (``.zmetadata`` for v2, root ``zarr.json`` for v3; consolidated locally first if
    missing) goes first so the Hub can open the archive, then all other files in parallel (at most
    ``max_workers`` at a time). ``if_exists``: ``replace`` overwrites, ``skip`` keeps existing objects,
    ``raise`` refuses when any object exists.

    Raises:
        ArtifactExistsError: ``if_exists="raise"`` and an object already exists.
        PartialUploadError: some files failed (after all others were tried); re-run with ``if_exists="skip"``.
        StorageError: ``local_root`` is not a Zarr archive, or the metadata upload failed.
    """
    root = Path(local_root)
    store = parse_url(store_url)
    first = prepare_zarr(root)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    total = sum((root / f).stat().st_size for f in files)
    report = UploadReport()
    rest = [f for f in files if f not in first]
    with Progress(session.progress, f"upload {root.name}", total) as bar:
        known = dict(digests or {})

        def one(name: str) -> UploadReport:
            return _upload_one(
                session,
                store.child(name),
                root / name,
                OCTET_STREAM,
                if_exists,
                bar,
                multipart=False,
                known_md5=known.get(name),
            )

        for name in first:
            report.add(one(name))

        failed: list[tuple[str, BaseException]] = []
        with ThreadPoolExecutor(session.max_workers, thread_name_prefix="polaris-upload") as pool:
            results = bounded_map(pool, one, rest, session.max_workers * PENDING_PER_WORKER)
            for name, future in results:
                exc = future.exception()
                if exc is None:
                    report.add(future.result())
                elif isinstance(exc, ArtifactExistsError | ClientClosedError):
                    results.close()
                    raise exc
                else:
                    logger.warning("upload of %s failed: %s", name, exc)
                    failed.append((name, exc))
    if failed:
        names = ", ".join(n for n, _ in failed[:5]) + (" ..." if len(failed) > 5 else "")
        raise PartialUploadError(
            f"upload of {root} to {store.bucket}/{store.key} incomplete; failed: {names}",
            done=report.uploaded + report.skipped,
            failed=len(failed),
        ) from failed[0][1]
    logger.info("uploaded %s: %d sent, %d kept, %d bytes", root, report.uploaded, report.skipped, report.bytes)
    return report

"""Uploads: single objects (one PUT, or multipart above the threshold) and whole Zarr archives.

Every request carries ``Content-MD5`` (facts §4.4, §7.6) and every object gets metadata ``md5sum``. Zarr chunks go
as one PUT each (:mod:`.writer`: SigV4-signed, sent with urllib3, a file body streamed block by block), as the
reference client does; multipart uploads use boto3. Standalone files (the Parquet table, the V2 manifest) above
``MULTIPART_THRESHOLD`` go as multipart uploads of ``PART_SIZE`` parts, one part in memory at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from polaris.errors import (
    ArtifactExistsError,
    ClientClosedError,
    ObjectConflictError,
    PartialUploadError,
    StorageError,
)
from polaris.hub.storage._util import b64, bounded_map, md5_of
from polaris.hub.storage.classify import PreconditionFailed
from polaris.hub.storage.constants import (
    MD5_METADATA_KEY,
    MULTIPART_THRESHOLD,
    OCTET_STREAM,
    PART_SIZE,
    READ_WHOLE_MAX,
    STREAM_CHUNK_SIZE,
    content_type_for,
)
from polaris.hub.storage.progress import Progress
from polaris.hub.storage.tokens import ObjectLocation, parse_url
from polaris.hub.storage.zarr import StagedZarr, stage_zarr
from polaris.types import ZarrConflictResolution

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

    from polaris.hub.storage.transport import Transport

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
    transport: Transport,
    url: str,
    data: bytes | Path,
    *,
    content_type: str | None = None,
    if_exists: ZarrConflictResolution = "replace",
) -> UploadReport:
    """Upload one object: a single PUT up to :data:`MULTIPART_THRESHOLD` bytes, multipart above.

    Every request carries ``Content-MD5``; the object gets metadata ``md5sum`` (hex md5 of all of it).
    ``content_type`` defaults to :func:`content_type_for` the key.

    ``if_exists="skip"``: an object already stored with our md5 is kept and its body is not sent.

    Raises:
        ArtifactExistsError: ``if_exists="raise"`` and the object already exists (nothing was written).
        ObjectConflictError: ``if_exists="skip"`` and the stored object's md5 differs from ours.
        StorageError: the storage could not be reached or refused the upload.
    """
    loc = parse_url(url)
    if not isinstance(data, bytes):
        data = Path(data)
    size = len(data) if isinstance(data, bytes) else data.stat().st_size
    with Progress(transport.progress, f"upload {PurePosixPath(loc.key).name}", size) as bar:
        return _upload_one(
            transport, loc, data, content_type or content_type_for(loc.key), if_exists, bar, multipart=True
        )


def _upload_one(
    transport: Transport,
    loc: ObjectLocation,
    data: bytes | Path,
    content_type: str,
    if_exists: ZarrConflictResolution,
    bar: Progress,
    *,
    multipart: bool,
    md5_hex: str | None = None,
    compared: bool = False,
) -> UploadReport:
    if isinstance(data, Path) and data.stat().st_size <= READ_WHOLE_MAX:
        data = data.read_bytes()
    if md5_hex is None:
        md5_hex, size = md5_of(data)
    else:
        size = len(data) if isinstance(data, bytes) else data.stat().st_size
    # ``compared``: a HEAD just found the object missing; the conditional PUT below still refuses to overwrite.
    if if_exists == "skip" and not compared and _present(transport, loc, md5_hex):
        bar.advance(size)
        return UploadReport(skipped=1)
    conditional = if_exists in ("skip", "raise")
    try:
        if multipart and size > MULTIPART_THRESHOLD:
            _multipart(transport, loc, data, size, md5_hex, content_type, conditional, bar)
        else:
            _put(transport, loc, data, size, md5_hex, content_type, conditional, bar)
    except PreconditionFailed:
        if if_exists == "raise":
            raise ArtifactExistsError(f"an object already exists at {loc.bucket}/{loc.key}") from None
        if _present(transport, loc, md5_hex):  # written by someone else meanwhile: same bytes, fine
            return UploadReport(skipped=1)
        raise ObjectConflictError(f"{loc.bucket}/{loc.key} appeared while uploading it", keys=[loc.key]) from None
    return UploadReport(uploaded=1, bytes=size)


def _present(transport: Transport, loc: ObjectLocation, md5_hex: str) -> bool:
    """``skip``: True when the stored object's md5 equals ours (nothing to send), False when there is none.

    Raises:
        ObjectConflictError: an object is stored there and its md5 differs from ours (or cannot be known).
    """
    from polaris.hub.storage.download import head

    info = head(transport, loc)
    if info is None:
        return False
    stored = info.stored_md5()
    if stored == md5_hex.lower():
        logger.debug("kept existing object %s/%s (same md5)", loc.bucket, loc.key)
        return True
    raise ObjectConflictError(
        f"the stored object {loc.bucket}/{loc.key} differs from yours "
        f"(stored md5 {stored or 'unknown'}, yours {md5_hex}); nothing was overwritten",
        keys=[loc.key],
    )


def compare(
    transport: Transport, objects: Mapping[str, tuple[ObjectLocation, str]]
) -> tuple[list[str], list[str], list[str]]:
    """HEAD every object: (present with our md5, missing, differing) names, each sorted.

    ``objects`` maps a name to (location, our md5 hex).

    Raises:
        StorageError: the storage could not be reached.
    """
    present: list[str] = []
    missing: list[str] = []
    differing: list[str] = []

    def one(name: str) -> str:
        loc, md5_hex = objects[name]
        try:
            return "present" if _present(transport, loc, md5_hex) else "missing"
        except ObjectConflictError:
            return "differing"

    with ThreadPoolExecutor(transport.cap, thread_name_prefix="polaris-head") as pool:
        results = bounded_map(pool, one, list(objects), lambda: transport.limit.limit)
        for name, future in results:
            exc = future.exception()
            if exc is not None:
                results.close()
                raise exc
            {"present": present, "missing": missing, "differing": differing}[future.result()].append(name)
    return sorted(present), sorted(missing), sorted(differing)


def _put(
    transport: Transport,
    loc: ObjectLocation,
    data: bytes | Path,
    size: int,
    md5_hex: str,
    content_type: str,
    conditional: bool,
    bar: Progress,
) -> None:
    def attempt() -> tuple[int, None]:
        generation, writer = transport.writer()
        writer.put(loc, data, size=size, md5_hex=md5_hex, content_type=content_type, if_none_match=conditional)
        return generation, None

    cost = size if isinstance(data, bytes) else min(size, STREAM_CHUNK_SIZE)  # a file body is streamed in blocks
    transport.call(f"PUT {loc.bucket}/{loc.key}", attempt, cost=cost, nbytes=size)
    bar.advance(size)


def _multipart(
    transport: Transport,
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
        generation, s3 = transport.boto()
        answer = s3.create_multipart_upload(
            Bucket=loc.bucket, Key=loc.key, ContentType=content_type, Metadata={MD5_METADATA_KEY: md5_hex}
        )
        return generation, answer["UploadId"]

    upload_id = transport.call(what, create)
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
                    generation, s3 = transport.boto()
                    answer = s3.upload_part(
                        Bucket=loc.bucket,
                        Key=loc.key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=part,
                        ContentMD5=b64(part_md5),
                    )
                    return generation, answer["ETag"]

                etag = transport.call(f"{what} part {number}", upload_part, cost=len(part), nbytes=len(part))
                parts.append({"ETag": etag, "PartNumber": number})
                bar.advance(len(part))

        def complete() -> tuple[int, None]:
            generation, s3 = transport.boto()
            extra: dict[str, Any] = {"IfNoneMatch": "*"} if conditional else {}
            s3.complete_multipart_upload(
                Bucket=loc.bucket, Key=loc.key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **extra
            )
            return generation, None

        transport.call(f"{what} complete", complete)
    except BaseException:
        _abort(transport, loc, upload_id)
        raise


def _abort(transport: Transport, loc: ObjectLocation, upload_id: str) -> None:
    def abort() -> tuple[int, None]:
        generation, s3 = transport.boto()
        s3.abort_multipart_upload(Bucket=loc.bucket, Key=loc.key, UploadId=upload_id)
        return generation, None

    try:
        transport.call(f"abort multipart upload {loc.bucket}/{loc.key}", abort)
    except Exception as exc:  # the original failure matters more
        logger.warning("could not abort multipart upload of %s/%s: %s", loc.bucket, loc.key, exc)


def upload_zarr(
    transport: Transport,
    local_root: Path,
    store_url: str,
    *,
    if_exists: ZarrConflictResolution = "replace",
    staged: StagedZarr | None = None,
    only: Iterable[str] | None = None,
) -> UploadReport:
    """Upload every file of a local Zarr archive (format 2 or 3) under ``store_url``.

    Nothing is written into ``local_root``: fresh consolidated metadata is built in a staging folder (or taken
    from ``staged``) and goes first so the Hub can open the archive, then all other files in parallel (as
    many at a time as the session's adaptive limit allows). ``if_exists``: ``replace`` overwrites, ``skip`` keeps
    stored objects whose md5 equals ours and refuses ones that differ, ``raise`` refuses when any object exists.
    ``only``: upload just these keys (what :func:`compare` found missing; they are not HEADed again).

    Raises:
        ArtifactExistsError: ``if_exists="raise"`` and an object already exists.
        ObjectConflictError: ``if_exists="skip"`` and a stored object differs from ours.
        PartialUploadError: the upload stopped (metadata or chunks); lists what is missing; re-run with
            ``if_exists="skip"``.
        StorageError: ``local_root`` is not a Zarr archive.
    """
    import tempfile

    root = Path(local_root)
    store = parse_url(store_url)
    with contextlib.ExitStack() as stack:
        if staged is None:
            staging = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="polaris-zarr-")))
            staged = stage_zarr(root, staging)
        wanted = set(staged.files) if only is None else set(only) & set(staged.files)
        entries = {e.path: e for e in staged.entries()}
        names = sorted(wanted)
        first = [n for n in staged.first if n in wanted]
        rest = [n for n in names if n not in first]
        total = sum(entries[n].size for n in names)
        report = UploadReport(skipped=len(staged.files) - len(wanted))
        done: set[str] = set()
        failures: list[tuple[str, BaseException]] = []

        def one(name: str) -> UploadReport:
            return _upload_one(
                transport,
                store.child(name),
                staged.body(name),  # the bytes hashed when they were kept, else the file (read again)
                OCTET_STREAM,
                if_exists,
                bar,
                multipart=False,
                md5_hex=entries[name].md5sum,
                compared=only is not None,
            )

        with Progress(transport.progress, f"upload {root.name}", total) as bar:
            try:
                for name in first:
                    report.add(one(name))
                    done.add(name)
            except (ArtifactExistsError, ClientClosedError):
                raise
            except StorageError as exc:
                failures.append((name, exc))
            if not failures:
                # After as many failures in a row as the current limit nothing new is started (the link is likely
                # down); what runs finishes. Isolated failures do not stop the others.
                streak = [0]
                pending = (n for n in rest if streak[0] < max(1, transport.limit.limit))
                with ThreadPoolExecutor(transport.cap, thread_name_prefix="polaris-upload") as pool:
                    results = bounded_map(pool, one, pending, lambda: transport.limit.limit)
                    for name, future in results:
                        err = future.exception()
                        if err is None:
                            report.add(future.result())
                            done.add(name)
                            streak[0] = 0
                        elif isinstance(err, ArtifactExistsError | ClientClosedError):
                            results.close()
                            raise err
                        else:
                            logger.warning("upload of %s failed: %s", name, err)
                            failures.append((name, err))
                            streak[0] += 1
    if failures:
        missing = [n for n in names if n not in done]
        raise PartialUploadError(
            f"upload of {root} to {store.bucket}/{store.key} incomplete; first failure: {failures[0][0]}",
            done=report.uploaded + report.skipped,
            failed=len(failures),
            missing=missing,
        ) from failures[0][1]
    logger.info("uploaded %s: %d sent, %d kept, %d bytes", root, report.uploaded, report.skipped, report.bytes)
    return report

"""The storage session: one renewable storage token, the two S3 clients built from it, and the retry loop.

The session owns a :class:`~polaris.hub.storage.transport.Transport` (token, clients, retry loop, adaptive
concurrency limit) and hands it to :mod:`.upload` / :mod:`.download`, which never import the session back.

Which library moves the bytes — chosen by measurement (``benchmarks/bench_transfer.py``: moto in its own process on
loopback, 2 cores, 8 concurrent transfers; best of 2-3 rounds):

* **Uploads run in a thread pool** (:mod:`.upload`; as many requests in flight as the adaptive limit allows); single
  PUTs are signed with ``UNSIGNED-PAYLOAD`` and a signed ``Content-MD5`` and sent with urllib3 (:mod:`.writer`, ~1 ms
  less client CPU per object than ``put_object``); multipart uploads use boto3, with payload signing off
  (``Content-MD5`` on every part). The protocol requires ``Content-MD5`` on every PUT and every part (facts §4.4,
  §7.6). obstore 0.12 cannot send it: ``put()`` takes no per-request headers (``attributes`` only set ``Content-*``
  headers and ``x-amz-meta-*`` metadata), so zarr 3's ``ObjectStore`` cannot either. Measured: 2000 x 4 KiB ours 249
  obj/s vs zarr ObjectStore 270 vs plain boto3 threads 259 (moto is the ceiling); 8 x 16 MiB ours 280 MiB/s vs
  ObjectStore 112 vs boto3 224. botocore >= 1.36 would add CRC32 checksum headers / ``aws-chunked`` bodies that R2
  rejects, so checksums are set to ``when_required``.
* **GETs (downloads, lazy reads), HEADs and listings are SigV4-signed by our signer and sent with urllib3**
  (:mod:`.endpoint`, :mod:`.reader`: one pooled keep-alive connection pool per token, shared with the PUTs; ~1 ms
  less CPU per object than ``get_object``/``head_object``, and a listing without botocore's per-key date parsing),
  streaming each object to disk while hashing it, resumable with ranged GETs. They used obstore's
  synchronous API before, but obstore follows a ``307`` to another host and sends the session token there, and
  offers no way to turn redirects off; its ``timeout`` is also a deadline for the whole request.
* **No redirects.** botocore's HTTP layer never follows redirects, nor does the reader (urllib3 with
  ``redirect=False``, same host only); botocore's S3 region redirector (which re-sends a request
  to wherever a 301/307 answer points) is switched off for every request, so a redirect is an error.
* **Timeouts** are a connect timeout and an idle-read timeout (seconds without a byte), never a total deadline: a
  large object on a slow but steady link completes.

Retries are ours, not the library's (botocore's are switched off), and they follow the client's one policy
(:mod:`polaris.hub.retry`): connection errors, 5xx and 429 are retried with its backoff, honouring ``Retry-After``.
``ExpiredToken`` / ``AccessDenied`` / 401 / 403 make the session ask its ``token_provider`` for a fresh token and
retry that request once; a token already past ``expires_at`` is renewed before the request is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from polaris.hub.retry import DEFAULT_POLICY, RetryPolicy
from polaris.hub.storage import download, upload
from polaris.hub.storage.constants import DEFAULT_MAX_CONCURRENCY
from polaris.hub.storage.transport import Transport, boto_session, prewarm, timeouts
from polaris.types import ZarrConflictResolution

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from polaris.hub.storage.reader import ObjectReader
    from polaris.hub.storage.tokens import ObjectLocation, StorageToken
    from polaris.hub.storage.upload import UploadReport
    from polaris.hub.storage.writer import ObjectWriter
    from polaris.hub.storage.zarr import StagedZarr

__all__ = ["StorageSession", "boto_session", "prewarm"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StorageSession:
    """Moves files and Zarr archives to and from the Hub's object storage with one (renewable) storage token.

    ``token_provider`` is called lazily on first use, again whenever the token is (about to be) expired, and when
    S3 answers ``ExpiredToken`` / ``AccessDenied`` / 403 mid-transfer (then the failed request is retried once).
    ``ca_bundle``: ``None`` = system trust, a path = PEM bundle to trust, ``False`` = no TLS verification.
    ``timeout``: ``(connect, idle read)`` seconds, or one number for both (default
    ``(CONNECT_TIMEOUT, READ_TIMEOUT)``); the read timeout is the longest silence on a connection, not a deadline.

    ``max_workers``: the most requests in flight at once (the cap; ``POLARIS_STORAGE_MAX_CONCURRENCY`` through the
    client's settings). Below it the session's :class:`~polaris.hub.storage.concurrency.AdaptiveLimit` follows the
    link: it grows while throughput grows and backs off on throttling and connection errors. Everything the session
    does (uploads, downloads, lazy reads) shares that one limit.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        token_provider: Callable[[], StorageToken],
        *,
        max_workers: int = DEFAULT_MAX_CONCURRENCY,
        progress: bool = True,
        ca_bundle: str | Path | bool | None = None,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        timeout: float | tuple[float, float] | None = None,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        from polaris.hub.redact import install_log_redaction

        # a Dask worker makes sessions without ever importing the client, which installs the filter: botocore's
        # signer logs the canonical request (session token included) at DEBUG
        install_log_redaction()
        self.max_workers = max_workers
        self.retry_policy = retry_policy
        self.timeout = timeouts(timeout)
        self.transport = Transport(
            token_provider,
            cap=max_workers,
            progress=progress,
            ca_bundle=ca_bundle,
            retry_policy=retry_policy,
            timeout=self.timeout,
        )
        """What moves the bytes (token, clients, retry loop, concurrency limit); lazy stores read through it."""

    @property
    def progress(self) -> bool:
        """Whether transfers show progress bars."""
        return self.transport.progress

    @progress.setter
    def progress(self, value: bool) -> None:
        self.transport.progress = value

    # -- lifecycle --
    def __enter__(self) -> StorageSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release connections. Further calls raise :class:`ClientClosedError`."""
        self.transport.close()

    @property
    def token(self) -> StorageToken:
        """The current token (fetched on first access).

        Raises:
            StorageError: the token provider failed or returned something that is not a StorageToken.
        """
        return self.transport.state()[1]

    # -- the transport's clients and retry loop, for tests and tools that send one request by hand --
    def _state(self) -> tuple[int, StorageToken]:
        return self.transport.state()

    def _boto(self) -> tuple[int, S3Client]:
        return self.transport.boto()

    def _get_reader(self) -> tuple[int, ObjectReader]:
        return self.transport.reader()

    def _get_writer(self) -> tuple[int, ObjectWriter]:
        return self.transport.writer()

    def _call(self, what: str, attempt_fn: Callable[[], tuple[int, T]]) -> T:
        return self.transport.call(what, attempt_fn)

    # -- single objects --
    def exists(self, url: str) -> bool:
        """Whether an object exists at ``url``.

        Raises:
            StorageError: the storage could not be reached or refused the request.
        """
        return download.exists(self.transport, url)

    def read_bytes(self, url: str, *, max_bytes: int | None = None) -> bytes:
        """The whole object at ``url``, in memory, at most ``max_bytes`` (use :meth:`download_file` for big objects).

        Raises:
            DeclaredSizeError: the object is longer than ``max_bytes`` (default: the default ceiling).
            StorageError: missing object, or the storage could not be reached.
        """
        return download.read_bytes(self.transport, url, max_bytes=max_bytes)

    def download_file(self, url: str, dest: Path, *, expected_md5: str | None = None, artifact: str = "") -> Path:
        """Stream the object at ``url`` to ``dest`` (via ``dest.incomplete``, renamed when complete and verified).

        Raises:
            PolarisChecksumError: ``expected_md5`` given and the bytes differ; nothing is left at ``dest``.
            StorageError: missing object, or the storage could not be reached.
        """
        return download.download_file(self.transport, url, dest, expected_md5=expected_md5, artifact=artifact)

    def upload_file(
        self,
        url: str,
        data: bytes | Path,
        *,
        content_type: str | None = None,
        if_exists: ZarrConflictResolution = "replace",
    ) -> UploadReport:
        """Upload one object: a single PUT up to ``MULTIPART_THRESHOLD`` bytes, multipart above.

        Every request carries ``Content-MD5``; the object gets metadata ``md5sum`` (hex md5 of all of it).
        ``content_type`` defaults to ``content_type_for`` the key.

        Raises:
            ArtifactExistsError: ``if_exists="raise"`` and the object already exists (nothing was written).
            StorageError: the storage could not be reached or refused the upload.
        """
        return upload.upload_file(self.transport, url, data, content_type=content_type, if_exists=if_exists)

    # -- Zarr archives --
    def upload_zarr(
        self,
        local_root: Path,
        store_url: str,
        *,
        if_exists: ZarrConflictResolution = "replace",
        staged: StagedZarr | None = None,
        only: Iterable[str] | None = None,
    ) -> UploadReport:
        """Upload every file of a local Zarr archive (format 2 or 3) under ``store_url``.

        Nothing is written into ``local_root``: fresh consolidated metadata is built in a staging folder (or taken
        from ``staged``, see :func:`~polaris.hub.storage.zarr.stage_zarr`) and goes first, then all other files in
        parallel. ``if_exists``: ``replace`` overwrites, ``skip`` keeps stored objects whose md5 equals ours (their
        bodies are not sent) and refuses ones that differ, ``raise`` refuses when any object exists. ``only``:
        upload just these keys.

        Raises:
            ArtifactExistsError: ``if_exists="raise"`` and an object already exists.
            ObjectConflictError: ``if_exists="skip"`` and a stored object differs from ours.
            PartialUploadError: the upload stopped; lists what is missing; re-run with ``if_exists="skip"``.
            StorageError: ``local_root`` is not a Zarr archive.
        """
        return upload.upload_zarr(self.transport, local_root, store_url, if_exists=if_exists, staged=staged, only=only)

    def compare(self, objects: Mapping[str, tuple[ObjectLocation, str]]) -> tuple[list[str], list[str], list[str]]:
        """HEAD every object of ``{name: (location, our md5)}``: (present with our md5, missing, differing) names.

        Raises:
            StorageError: the storage could not be reached.
        """
        return upload.compare(self.transport, objects)

    def list_objects(self, store_url: str) -> list[tuple[str, int]]:
        """(relative key, size) of every object under the store URL's prefix, sorted by key.

        Raises:
            StorageError: the storage could not be reached or refused the listing.
        """
        return download.list_objects(self.transport, store_url)

    def download_zarr(
        self,
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

        Written into ``dest.incomplete`` and renamed to ``dest`` when everything arrived (an existing ``dest`` is
        replaced). With ``manifest`` (relative path -> md5 hex) each object is verified while streaming. Each
        listed object's size must not exceed what ``sizes`` declares for it nor ``max_bytes`` (the ceiling).

        Raises:
            DeclaredSizeError: a listed object is larger than declared or than the ceiling (nothing is fetched).
            PolarisChecksumError: an object differs from the manifest or a manifest entry is missing remotely;
                names the artifact and chunk; nothing is left at ``dest``.
            StorageError: nothing under ``store_url``, or the storage could not be reached.
        """
        return download.download_zarr(
            self.transport,
            store_url,
            dest,
            manifest=manifest,
            artifact=artifact,
            digests=digests,
            sizes=sizes,
            max_bytes=max_bytes,
        )

"""The storage session: one renewable storage token, the two S3 clients built from it, and the retry loop.

Which library moves the bytes — chosen by measurement (``benchmarks/bench_transfer.py``: moto in its own process on
loopback, 2 cores, 8 concurrent transfers; best of 2-3 rounds):

* **Uploads run in a thread pool** (:mod:`.upload`); single PUTs are signed with ``UNSIGNED-PAYLOAD`` and a signed
  ``Content-MD5`` and sent with urllib3 (:mod:`.writer`, ~1 ms less client CPU per object than ``put_object``);
  multipart uploads use boto3, with payload signing off (``Content-MD5`` on every part). The protocol requires
  ``Content-MD5`` on every PUT and every part (facts §4.4, §7.6). obstore 0.12 cannot send it: ``put()`` takes no
  per-request headers (``attributes`` only set ``Content-*`` headers and ``x-amz-meta-*`` metadata), so zarr 3's
  ``ObjectStore`` cannot either. Measured: 2000 x 4 KiB ours 249 obj/s vs zarr ObjectStore 270 vs plain boto3
  threads 259 (moto is the ceiling); 8 x 16 MiB ours 280 MiB/s vs ObjectStore 112 vs boto3 224. botocore >= 1.36
  would add CRC32 checksum headers / ``aws-chunked`` bodies that R2 rejects, so checksums are set to
  ``when_required``.
* **Listing and HEAD use boto3 too; GETs (downloads, lazy reads) are signed with botocore's SigV4 signer and sent
  with urllib3** (:mod:`.reader`: one pooled keep-alive connection pool per token, ~1 ms less CPU per object than
  ``get_object``), streaming each object to disk while hashing it, resumable with ranged GETs. They used obstore's
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

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from polaris.errors import ClientClosedError, DeclaredSizeError, PolarisChecksumError, StorageError
from polaris.hub.retry import DEFAULT_POLICY, RetryPolicy
from polaris.hub.storage import download, upload
from polaris.hub.storage.classify import ObjectMissing, PreconditionFailed, classify, describe
from polaris.hub.storage.constants import CONNECT_TIMEOUT, DEFAULT_CONCURRENCY, DEFAULT_REGION, READ_TIMEOUT
from polaris.hub.storage.reader import ObjectReader
from polaris.hub.storage.tokens import StorageToken
from polaris.hub.storage.writer import ObjectWriter
from polaris.types import ZarrConflictResolution

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from polaris.hub.storage.tokens import ObjectLocation
    from polaris.hub.storage.upload import UploadReport
    from polaris.hub.storage.zarr import StagedZarr

__all__ = ["StorageSession"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


_BOTO_LOCK = threading.Lock()
_BOTO: tuple[int, Any] | None = None  # (pid, boto3 Session)


def boto_session() -> Any:
    """The process's one ``boto3.session.Session`` (a new session reloads the S3 service model: ~0.15 s).

    Clients made from it cost ~10 ms. Recreated after a fork (sessions are not shared between processes).
    """
    global _BOTO
    with _BOTO_LOCK:
        if _BOTO is None or _BOTO[0] != os.getpid():
            import boto3

            session = boto3.session.Session()
            # load the S3 service model now, once: the first client of a session pays for it
            session.client("s3", region_name=DEFAULT_REGION, aws_access_key_id="x", aws_secret_access_key="x").close()
            _BOTO = (os.getpid(), session)
        return _BOTO[1]


def prewarm() -> None:
    """Build the process's boto3 session in the background (call it before hashing what will be uploaded)."""
    if _BOTO is not None and _BOTO[0] == os.getpid():
        return
    threading.Thread(target=_prewarm, name="polaris-boto-prewarm", daemon=True).start()


def _prewarm() -> None:
    try:
        boto_session()
    except Exception as exc:  # the transfer will build it again and report a real failure
        logger.debug("boto3 prewarm failed: %s", exc)


class StorageSession:
    """Moves files and Zarr archives to and from the Hub's object storage with one (renewable) storage token.

    ``token_provider`` is called lazily on first use, again whenever the token is (about to be) expired, and when
    S3 answers ``ExpiredToken`` / ``AccessDenied`` / 403 mid-transfer (then the failed request is retried once).
    ``ca_bundle``: ``None`` = system trust, a path = PEM bundle to trust, ``False`` = no TLS verification.
    ``timeout``: ``(connect, idle read)`` seconds, or one number for both (default
    ``(CONNECT_TIMEOUT, READ_TIMEOUT)``); the read timeout is the longest silence on a connection, not a deadline.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        token_provider: Callable[[], StorageToken],
        *,
        max_workers: int = DEFAULT_CONCURRENCY,
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
        self._provider = token_provider
        self.max_workers = max_workers
        self.progress = progress
        self._ca_bundle = ca_bundle
        self.retry_policy = retry_policy
        self.timeout = _timeouts(timeout)
        self._lock = threading.RLock()
        self._token: StorageToken | None = None
        self._generation = 0
        self._s3: S3Client | None = None
        self._reader: ObjectReader | None = None
        self._writer: ObjectWriter | None = None
        self._closed = False

    # -- lifecycle --
    def __enter__(self) -> StorageSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release connections. Further calls raise :class:`ClientClosedError`."""
        with self._lock:
            self._closed = True
            self._drop_clients()

    @property
    def token(self) -> StorageToken:
        """The current token (fetched on first access).

        Raises:
            StorageError: the token provider failed or returned something that is not a StorageToken.
        """
        return self._state()[1]

    # -- token and clients --
    def _drop_clients(self) -> None:
        if self._s3 is not None:
            with contextlib.suppress(Exception):
                self._s3.close()
        self._s3 = None
        if self._reader is not None:
            self._reader.close()
        self._reader = None
        if self._writer is not None:
            self._writer.close()
        self._writer = None

    def _state(self) -> tuple[int, StorageToken]:
        with self._lock:
            if self._closed:
                raise ClientClosedError("the storage session is closed", hint="Open a new StorageSession.")
            if self._token is None or self._token.expired():
                if self._token is not None:
                    logger.info("storage token expired or about to expire; renewing")
                self._install(self._fetch_token())
            assert self._token is not None
            return self._generation, self._token

    def _fetch_token(self) -> StorageToken:
        token = self._provider()
        if not isinstance(token, StorageToken):
            raise StorageError(f"token_provider returned {type(token).__name__}, expected StorageToken")
        if token.expired(leeway=0):
            logger.warning("the storage token provider returned an already expired token")
        return token

    def _install(self, token: StorageToken) -> None:
        self._token = token
        self._generation += 1
        self._drop_clients()

    def _renew(self, seen_generation: int) -> None:
        """Fetch a new token unless another thread already did since ``seen_generation``."""
        with self._lock:
            if self._closed:
                raise ClientClosedError("the storage session is closed", hint="Open a new StorageSession.")
            if self._generation == seen_generation:
                logger.info("storage rejected the token; renewing it and retrying once")
                self._install(self._fetch_token())

    def _boto(self) -> tuple[int, S3Client]:
        with self._lock:
            generation, token = self._state()
            if self._s3 is None:
                from botocore.config import Config

                config = Config(
                    region_name=DEFAULT_REGION,
                    signature_version="s3v4",
                    # no SHA-256 of bodies (botocore would hash every part over http): Content-MD5 is on every part
                    s3={"addressing_style": "path", "payload_signing_enabled": False},
                    retries={"total_max_attempts": 1, "mode": "standard"},  # our retry loop decides
                    connect_timeout=self.timeout[0],
                    read_timeout=self.timeout[1],
                    max_pool_connections=max(10, self.max_workers * 2),
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    parameter_validation=False,  # we build every request ourselves; saves CPU per small object
                )
                verify: str | bool | None = None
                if self._ca_bundle is False:
                    verify = False
                elif self._ca_bundle not in (None, True):
                    verify = str(self._ca_bundle)
                self._s3 = boto_session().client(
                    "s3",
                    endpoint_url=token.endpoint,
                    aws_access_key_id=token.key,
                    aws_secret_access_key=token.secret,
                    aws_session_token=token.session_token,
                    config=config,
                    verify=verify,
                )
                self._s3.meta.events.register("before-call.s3", _no_region_redirect)
            return generation, self._s3

    def _get_reader(self) -> tuple[int, ObjectReader]:
        """The signed-GET reader of the current token (downloads and lazy reads), with its generation."""
        with self._lock:
            generation, token = self._state()
            if self._reader is None:
                self._reader = ObjectReader(
                    token,
                    timeout=self.timeout,
                    ca_bundle=self._ca_bundle,
                    max_connections=max(10, self.max_workers * 2),
                )
            return generation, self._reader

    def _get_writer(self) -> tuple[int, ObjectWriter]:
        """The signed-PUT writer of the current token (single-PUT uploads), with its generation."""
        with self._lock:
            generation, token = self._state()
            if self._writer is None:
                self._writer = ObjectWriter(
                    token,
                    timeout=self.timeout,
                    ca_bundle=self._ca_bundle,
                    max_connections=max(10, self.max_workers * 2),
                )
            return generation, self._writer

    # -- the retry loop --
    def _call(self, what: str, attempt_fn: Callable[[], tuple[int, T]]) -> T:
        """Run one S3 request with renewal-on-auth-failure (once) and retries on transient failures.

        ``attempt_fn`` returns (token generation used, result) or raises.
        """
        renewed = False
        attempt = 0
        while True:
            generation, _ = self._state()
            try:
                return attempt_fn()[1]
            except (PolarisChecksumError, ClientClosedError, StorageError, DeclaredSizeError):
                raise
            except Exception as exc:
                kind, retry_after = classify(exc)
                if kind == "precondition":
                    raise PreconditionFailed(what) from exc
                if kind == "not_found":
                    raise ObjectMissing(what) from exc
                if kind == "auth" and not renewed:
                    renewed = True
                    self._renew(generation)
                    continue
                delay = self.retry_policy.delay(attempt, retry_after) if kind == "transient" else None
                if delay is not None:
                    attempt += 1
                    logger.warning(
                        "%s failed (%s); retry %d/%d in %.2fs",
                        what,
                        type(exc).__name__,
                        attempt,
                        self.retry_policy.max_retries,
                        delay,
                    )
                    time.sleep(delay)
                    continue
                hint = None
                if kind == "redirect":
                    raise StorageError(
                        f"{what} was answered with a redirect; refused (storage credentials are only ever sent to "
                        "the endpoint the Hub named)",
                        hint="The storage endpoint redirects elsewhere; report it to the Hub's operators.",
                    ) from exc
                if kind == "auth":
                    hint = "The storage token was refused even after renewal; check your access to this artifact."
                elif kind == "transient":
                    hint = "Storage kept failing; try again later."
                    if "timeout" in type(exc).__name__.lower() or isinstance(exc, TimeoutError):
                        hint = (
                            f"No answer within the timeouts (connect {self.timeout[0]:g} s, "
                            f"{self.timeout[1]:g} s without a byte); on a slow link pass a larger timeout."
                        )
                detail = describe(exc)
                if kind == "fatal" and ("BadDigest" in detail or "InvalidDigest" in detail):
                    hint = (
                        "The storage refused the bytes: they differ from the md5 computed before the upload (did a "
                        "file change while it was uploaded?). Upload again once the files are final."
                    )
                raise StorageError(f"{what} failed: {detail}", hint=hint) from exc

    # -- single objects --
    def exists(self, url: str) -> bool:
        """Whether an object exists at ``url``.

        Raises:
            StorageError: the storage could not be reached or refused the request.
        """
        return download.exists(self, url)

    def read_bytes(self, url: str, *, max_bytes: int | None = None) -> bytes:
        """The whole object at ``url``, in memory, at most ``max_bytes`` (use :meth:`download_file` for big objects).

        Raises:
            DeclaredSizeError: the object is longer than ``max_bytes`` (default: the default ceiling).
            StorageError: missing object, or the storage could not be reached.
        """
        return download.read_bytes(self, url, max_bytes=max_bytes)

    def download_file(self, url: str, dest: Path, *, expected_md5: str | None = None, artifact: str = "") -> Path:
        """Stream the object at ``url`` to ``dest`` (via ``dest.incomplete``, renamed when complete and verified).

        Raises:
            PolarisChecksumError: ``expected_md5`` given and the bytes differ; nothing is left at ``dest``.
            StorageError: missing object, or the storage could not be reached.
        """
        return download.download_file(self, url, dest, expected_md5=expected_md5, artifact=artifact)

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
        return upload.upload_file(self, url, data, content_type=content_type, if_exists=if_exists)

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
        return upload.upload_zarr(self, local_root, store_url, if_exists=if_exists, staged=staged, only=only)

    def compare(self, objects: Mapping[str, tuple[ObjectLocation, str]]) -> tuple[list[str], list[str], list[str]]:
        """HEAD every object of ``{name: (location, our md5)}``: (present with our md5, missing, differing) names.

        Raises:
            StorageError: the storage could not be reached.
        """
        return upload.compare(self, objects)

    def list_objects(self, store_url: str) -> list[tuple[str, int]]:
        """(relative key, size) of every object under the store URL's prefix, sorted by key.

        Raises:
            StorageError: the storage could not be reached or refused the listing.
        """
        return download.list_objects(self, store_url)

    def download_zarr(
        self,
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

        Raises:
            PolarisChecksumError: an object differs from the manifest or a manifest entry is missing remotely;
                names the artifact and chunk; nothing is left at ``dest``.
            StorageError: nothing under ``store_url``, or the storage could not be reached.
        """
        return download.download_zarr(self, store_url, dest, manifest=manifest, artifact=artifact, digests=digests)


def _timeouts(timeout: float | tuple[float, float] | None) -> tuple[float, float]:
    if timeout is None:
        return CONNECT_TIMEOUT, READ_TIMEOUT
    if isinstance(timeout, int | float):
        return float(timeout), float(timeout)
    connect, read = timeout
    return float(connect if connect is not None else CONNECT_TIMEOUT), float(read if read is not None else READ_TIMEOUT)


def _no_region_redirect(context: dict[str, Any] | None = None, **_: Any) -> None:
    """botocore ``before-call`` hook: mark the request as already redirected so the S3 region redirector never
    re-sends it (with its credentials) to the place a 301/307 answer points to."""
    if context is not None:
        context.setdefault("s3_redirect", {})["redirected"] = True

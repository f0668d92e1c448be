"""The transport under a storage session: one renewable storage token, the clients built from it, the retry loop,
and the adaptive concurrency limit every request passes through.

:mod:`.download`, :mod:`.upload` and :mod:`.lazy` move bytes through a :class:`Transport`; the
:class:`~polaris.hub.storage.session.StorageSession` owns one and hands it to them, so the imports run one way
(session -> download/upload -> transport), never back.

Each request (:meth:`Transport.call`) takes a slot of the session's :class:`~.concurrency.AdaptiveLimit` for the
duration of one attempt (not while it sleeps before a retry) and reports how the attempt ended: throttling answers
(503, ``SlowDown``, 429) and connection errors shrink the limit, throughput that grows with it lets it grow up to
``max_workers``. See :mod:`polaris.hub.storage.session` for which library moves which bytes and the retry rules.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from polaris.errors import ClientClosedError, DeclaredSizeError, PolarisChecksumError, StorageError
from polaris.hub.retry import DEFAULT_POLICY, RetryPolicy
from polaris.hub.storage.classify import ErrorKind, ObjectMissing, PreconditionFailed, classify, describe
from polaris.hub.storage.concurrency import AdaptiveLimit, Outcome
from polaris.hub.storage.constants import CONNECT_TIMEOUT, DEFAULT_REGION, READ_TIMEOUT
from polaris.hub.storage.endpoint import Endpoint
from polaris.hub.storage.reader import ObjectReader
from polaris.hub.storage.tokens import StorageToken
from polaris.hub.storage.writer import ObjectWriter

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["POOL_SPARE", "Transport", "boto_session", "prewarm"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

POOL_SPARE = 4
"""Keep-alive connections kept beyond the concurrency cap (HEADs and listings next to the transfers)."""
_THROTTLE_CODES = frozenset({"SlowDown", "Throttling", "ServiceUnavailable", "TooManyRequests"})


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


class Transport:
    """Token, clients, retry loop and concurrency limit of one storage session (thread-safe).

    ``cap``: the most requests in flight (the limit adapts below it). ``progress``: whether transfers show bars.
    """

    def __init__(
        self,
        token_provider: Callable[[], StorageToken],
        *,
        cap: int,
        progress: bool,
        ca_bundle: str | Path | bool | None,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    ) -> None:
        self._provider = token_provider
        self.cap = cap
        self.progress = progress
        self._ca_bundle = ca_bundle
        self.retry_policy = retry_policy
        self.timeout = timeout
        self.limit = AdaptiveLimit(cap)
        self._held = threading.local()
        self._lock = threading.RLock()
        self._token: StorageToken | None = None
        self._generation = 0
        self._s3: S3Client | None = None
        self._reader: ObjectReader | None = None
        self._writer: ObjectWriter | None = None
        self._http: Endpoint | None = None
        self._closed = False

    def close(self) -> None:
        """Release connections. Further requests raise :class:`ClientClosedError`."""
        with self._lock:
            self._closed = True
            self._drop_clients()

    def _drop_clients(self) -> None:
        if self._s3 is not None:
            with contextlib.suppress(Exception):
                self._s3.close()
        self._s3 = None
        if self._http is not None:
            self._http.close()  # the reader's and the writer's pool
        self._http = None
        self._reader = None
        self._writer = None

    def state(self) -> tuple[int, StorageToken]:
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

    def renew(self, seen_generation: int) -> None:
        """Fetch a new token unless another thread already did since ``seen_generation``."""
        with self._lock:
            if self._closed:
                raise ClientClosedError("the storage session is closed", hint="Open a new StorageSession.")
            if self._generation == seen_generation:
                logger.info("storage rejected the token; renewing it and retrying once")
                self._install(self._fetch_token())

    def boto(self) -> tuple[int, S3Client]:
        with self._lock:
            generation, token = self.state()
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
                    max_pool_connections=self.cap + POOL_SPARE,
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

    def _endpoint(self, token: StorageToken) -> Endpoint:
        """The token's one endpoint (pool + signer), shared by the reader and the writer (lock held)."""
        if self._http is None:
            self._http = Endpoint(
                token, timeout=self.timeout, ca_bundle=self._ca_bundle, max_connections=self.cap + POOL_SPARE
            )
        return self._http

    def reader(self) -> tuple[int, ObjectReader]:
        """The signed GET/HEAD/LIST reader of the current token, with its generation."""
        with self._lock:
            generation, token = self.state()
            if self._reader is None:
                self._reader = ObjectReader(self._endpoint(token))
            return generation, self._reader

    def writer(self) -> tuple[int, ObjectWriter]:
        """The signed-PUT writer of the current token (single-PUT uploads), with its generation."""
        with self._lock:
            generation, token = self.state()
            if self._writer is None:
                self._writer = ObjectWriter(self._endpoint(token))
            return generation, self._writer

    # -- the retry loop --
    def call(self, what: str, attempt_fn: Callable[[], tuple[int, T]], *, cost: int = 0, nbytes: int = 0) -> T:
        """Run one S3 request with renewal-on-auth-failure (once) and retries on transient failures.

        ``attempt_fn`` returns (token generation used, result) or raises. Each attempt holds one slot of
        :attr:`limit`; ``cost`` is the memory the attempt holds at once (bytes, for the limit's budget) and
        ``nbytes`` the bytes it moves (for the limit's throughput measure). A request made while this thread already
        holds a slot (a request inside a request) takes no second one.
        """
        renewed = False
        attempt = 0
        while True:
            generation, _ = self.state()
            held = not getattr(self._held, "on", False)
            if held:
                self.limit.acquire(cost)
                self._held.on = True
            try:
                result = attempt_fn()[1]
            except BaseException as exc:
                if held:
                    self._held.on = False
                    self.limit.release(cost, outcome=_outcome(exc))
                if isinstance(
                    exc, PolarisChecksumError | ClientClosedError | StorageError | DeclaredSizeError
                ) or not isinstance(exc, Exception):
                    raise
                error: Exception = exc
            else:
                if held:
                    self._held.on = False
                    self.limit.release(cost, outcome="ok", nbytes=nbytes)
                return result
            kind, retry_after = classify(error)
            if kind == "precondition":
                raise PreconditionFailed(what) from error
            if kind == "not_found":
                raise ObjectMissing(what) from error
            if kind == "auth" and not renewed:
                renewed = True
                self.renew(generation)
                continue
            delay = self.retry_policy.delay(attempt, retry_after) if kind == "transient" else None
            if delay is not None:
                attempt += 1
                logger.warning(
                    "%s failed (%s); retry %d/%d in %.2fs",
                    what,
                    type(error).__name__,
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
                ) from error
            if kind == "auth":
                hint = "The storage token was refused even after renewal; check your access to this artifact."
            elif kind == "transient":
                hint = "Storage kept failing; try again later."
                if "timeout" in type(error).__name__.lower() or isinstance(error, TimeoutError):
                    hint = (
                        f"No answer within the timeouts (connect {self.timeout[0]:g} s, "
                        f"{self.timeout[1]:g} s without a byte); on a slow link pass a larger timeout."
                    )
            detail = describe(error)
            if kind == "fatal" and ("BadDigest" in detail or "InvalidDigest" in detail):
                hint = (
                    "The storage refused the bytes: they differ from the md5 computed before the upload (did a "
                    "file change while it was uploaded?). Upload again once the files are final."
                )
            raise StorageError(f"{what} failed: {detail}", hint=hint) from error


def _outcome(exc: BaseException) -> Outcome:
    """What an attempt's failure says about the link: the store asks for less (``throttled``), the connection
    failed (``connection``), or nothing (``other``)."""
    if not isinstance(exc, Exception) or isinstance(exc, PolarisChecksumError | ClientClosedError | StorageError):
        return "other"
    try:
        kind: ErrorKind = classify(exc)[0]
    except Exception:  # classification itself failing must not break the request's own error
        return "other"
    if kind != "transient":
        return "other"
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        code = str((response.get("Error") or {}).get("Code") or "")
        if status in (429, 503) or code in _THROTTLE_CODES:
            return "throttled"
        return "other"  # a 500 says the store failed, not that it is overloaded
    return "connection"


def timeouts(timeout: float | tuple[float, float] | None) -> tuple[float, float]:
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

"""Retries for idempotent requests, as an httpx transport (so generated calls get them too).

Idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS) are retried on connection errors and on
429/502/503/504 answers, following the client's one retry policy (:mod:`polaris.hub.retry`: backoff with
jitter, ``Retry-After`` honoured).
POST and PATCH are never retried.

Answers whose body is JSON (or has no content type) are read at most :data:`MAX_JSON_RESPONSE_BYTES` bytes: a Hub
that streams an endless body gets a :class:`~polaris.errors.ResponseTooLargeError`, not unbounded memory.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import httpx

from polaris.errors import ResponseTooLargeError
from polaris.hub.retry import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_MAX_SECONDS,
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER_SECONDS,
    RetryPolicy,
    parse_retry_after,
)

__all__ = [
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_MAX_SECONDS",
    "IDEMPOTENT_METHODS",
    "MAX_ATTEMPTS",
    "MAX_JSON_RESPONSE_BYTES",
    "MAX_RETRY_AFTER_SECONDS",
    "RETRY_STATUSES",
    "RetryTransport",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)

#: Largest JSON answer read from the Hub (the biggest real answers, listing pages, are far below a megabyte).
MAX_JSON_RESPONSE_BYTES = 64 * 1024 * 1024
#: Methods safe to send twice.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: Answers worth another try.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Errors raised before any answer arrived.
_RETRY_EXCEPTIONS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.PoolTimeout,
)


def _replayable(request: httpx.Request) -> bool:
    # A request whose body was already read into memory (or has none) can be sent again.
    return isinstance(request.stream, httpx.ByteStream)


def _capped(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return not kind or kind.endswith("json") or kind.endswith("+json") or kind.startswith("text/")


class _CappedStream(httpx.SyncByteStream):
    """A response body that raises once more than ``limit`` bytes arrived (memory stays bounded)."""

    def __init__(self, inner: httpx.SyncByteStream, limit: int, where: str) -> None:
        self._inner = inner
        self._limit = limit
        self._where = where

    def _too_large(self) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"The Hub's answer to {self._where} is larger than {self._limit} bytes; stopped reading it"
        )

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                self.close()
                raise self._too_large()
            yield chunk

    def close(self) -> None:
        self._inner.close()


class RetryTransport(httpx.BaseTransport):
    """Wraps another transport and retries idempotent requests.

    Args:
        wrapped: the transport doing the I/O (normally :class:`httpx.HTTPTransport`).
        max_attempts, backoff_base, backoff_max, max_retry_after: see :mod:`polaris.hub.retry`.
        max_json_bytes: largest JSON (or untyped / text) answer body read, see :data:`MAX_JSON_RESPONSE_BYTES`.
        sleep: how to wait (tests may pass a recorder).
    """

    def __init__(
        self,
        wrapped: httpx.BaseTransport,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        backoff_base: float = BACKOFF_BASE_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
        max_retry_after: float = MAX_RETRY_AFTER_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        max_json_bytes: int = MAX_JSON_RESPONSE_BYTES,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.wrapped = wrapped
        self.policy = RetryPolicy(max_attempts, backoff_base, backoff_max, max_retry_after)
        self.max_attempts = max_attempts
        self.max_json_bytes = max_json_bytes
        self._sleep = sleep

    def _cap(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not _capped(response.headers.get("content-type", "")):
            return response
        where = f"{request.method} {request.url.copy_with(query=None)}"
        stream = _CappedStream(response.stream, self.max_json_bytes, where)  # type: ignore[arg-type]
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_json_bytes:
            stream.close()
            raise stream._too_large()
        response.stream = stream
        return response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        retryable = request.method.upper() in IDEMPOTENT_METHODS and _replayable(request)
        attempt = 0
        while True:
            attempt += 1
            last_try = not retryable or attempt >= self.max_attempts
            try:
                response = self.wrapped.handle_request(request)
            except _RETRY_EXCEPTIONS as exc:
                if last_try:
                    raise
                delay = self.policy.backoff(attempt - 1)
                logger.info(
                    "%s %s failed (%s); retry %d/%d in %.2fs",
                    request.method,
                    request.url.copy_with(query=None),
                    type(exc).__name__,
                    attempt,
                    self.max_attempts - 1,
                    delay,
                )
                self._sleep(delay)
                continue
            if response.status_code not in RETRY_STATUSES or last_try:
                return self._cap(request, response)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = self.policy.delay(attempt - 1, retry_after)
            if wait is None:
                logger.info("Retry-After of %.0fs is longer than we wait; giving up", retry_after or 0.0)
                return response
            delay = wait
            response.close()
            logger.info(
                "%s %s answered %d; retry %d/%d in %.2fs",
                request.method,
                request.url.copy_with(query=None),
                response.status_code,
                attempt,
                self.max_attempts - 1,
                delay,
            )
            self._sleep(delay)

    def close(self) -> None:
        self.wrapped.close()

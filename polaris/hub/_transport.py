"""Retries for idempotent requests, as an httpx transport (so generated calls get them too).

Idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS) are retried on connection errors and on
429/502/503/504 answers, following the client's one retry policy (:mod:`polaris.hub.retry`: backoff with
jitter, ``Retry-After`` honoured).
POST and PATCH are never retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx

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
    "MAX_RETRY_AFTER_SECONDS",
    "RETRY_STATUSES",
    "RetryTransport",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)

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


class RetryTransport(httpx.BaseTransport):
    """Wraps another transport and retries idempotent requests.

    Args:
        wrapped: the transport doing the I/O (normally :class:`httpx.HTTPTransport`).
        max_attempts, backoff_base, backoff_max, max_retry_after: see the module constants.
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
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.wrapped = wrapped
        self.policy = RetryPolicy(max_attempts, backoff_base, backoff_max, max_retry_after)
        self.max_attempts = max_attempts
        self._sleep = sleep

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
                return response
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

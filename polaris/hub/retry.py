"""The one retry policy of the client, shared by Hub API requests (:mod:`polaris.hub._transport`) and storage
transfers (:mod:`polaris.hub.storage`).

One set of constants, one backoff (exponential, capped, with jitter) and one ``Retry-After`` parser. What counts as
retryable differs by protocol and is decided by each caller (HTTP status / exception class for the API, S3 error
codes for storage); how often and how long to wait is decided here.

Why not a retry library (tenacity, backoff, urllib3's ``Retry``): both loops do protocol work between attempts — the
API transport closes the refused response and reads ``Retry-After`` from it, the storage loop renews the storage
token once on an auth failure without counting that as a retry and reads ``Retry-After`` from a botocore error —
which in tenacity means a custom ``retry``, ``wait`` and ``before_sleep`` callback each reading ``retry_state``. The
shared part (constants, backoff, header parsing) is a few dozen lines; a dependency would not make it shorter.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

__all__ = [
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_MAX_SECONDS",
    "DEFAULT_POLICY",
    "MAX_ATTEMPTS",
    "MAX_RETRY_AFTER_SECONDS",
    "RetryPolicy",
    "parse_retry_after",
]

#: Total tries of one request (first try included), for Hub API requests and S3 requests alike.
MAX_ATTEMPTS = 5
#: First backoff; doubles on each further retry.
BACKOFF_BASE_SECONDS = 0.25
#: Largest backoff between two tries (before jitter).
BACKOFF_MAX_SECONDS = 8.0
#: Largest ``Retry-After`` we are willing to wait; a longer one gives up and surfaces the error.
MAX_RETRY_AFTER_SECONDS = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try and how long to wait in between."""

    max_attempts: int = MAX_ATTEMPTS
    backoff_base: float = BACKOFF_BASE_SECONDS
    backoff_max: float = BACKOFF_MAX_SECONDS
    max_retry_after: float = MAX_RETRY_AFTER_SECONDS

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    @property
    def max_retries(self) -> int:
        """Retries after the first try."""
        return self.max_attempts - 1

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0-based): ``base * 2**retry`` capped, then jittered
        into ``[ceiling / 2, ceiling]``."""
        ceiling = min(self.backoff_max, self.backoff_base * (2.0**retry))
        return random.uniform(ceiling / 2, ceiling)  # jitter, not cryptography

    def delay(self, retry: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry number ``retry``, honouring a server's ``Retry-After``.

        ``None`` means do not retry: no retries left, or the server asked for a longer wait than
        :attr:`max_retry_after`.
        """
        if retry >= self.max_retries:
            return None
        if retry_after is not None:
            return None if retry_after > self.max_retry_after else max(0.0, retry_after)
        return self.backoff(retry)


DEFAULT_POLICY = RetryPolicy()
"""The policy every client object uses unless told otherwise."""


def parse_retry_after(value: object, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); ``None`` if absent or unparsable."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0.0, float(value))
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)

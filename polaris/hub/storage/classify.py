"""Error classification: sorting boto3 / urllib3 / obstore / OS exceptions into what the retry loop does with them."""

from __future__ import annotations

import re
from typing import Literal

from polaris.errors import PolarisChecksumError
from polaris.hub.retry import parse_retry_after

__all__ = ["ErrorKind", "ObjectMissing", "PreconditionFailed", "classify", "describe"]

ErrorKind = Literal["auth", "transient", "precondition", "not_found", "redirect", "fatal"]

_AUTH_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "InvalidToken", "AccessDenied"}
)
_TRANSIENT_CODES = frozenset({"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling"})
_STATUS_RE = re.compile(r"status code: (\d{3})")
_CODE_RE = re.compile(r"<Code>([^<]+)</Code>")


class PreconditionFailed(Exception):
    """Internal: a conditional write met an existing object (HTTP 412)."""


class ObjectMissing(Exception):
    """Internal: the object does not exist (HTTP 404)."""


def classify(exc: BaseException) -> tuple[ErrorKind, float | None]:
    """Sort a boto3 / obstore / OS exception into what the retry loop should do with it."""
    if isinstance(exc, PolarisChecksumError):
        return "fatal", None
    import obstore.exceptions as obx

    # obstore raises a builtin FileNotFoundError (without errno) for 404; local file errors carry an errno.
    if isinstance(exc, obx.NotFoundError) or (isinstance(exc, FileNotFoundError) and exc.errno is None):
        return "not_found", None
    if isinstance(exc, obx.AlreadyExistsError | obx.PreconditionError):
        return "precondition", None
    if isinstance(exc, obx.PermissionDeniedError | obx.UnauthenticatedError):
        return "auth", None
    if isinstance(exc, obx.BaseError):
        text = str(exc)
        status_match = _STATUS_RE.search(text)
        code_match = _CODE_RE.search(text)
        if status_match or code_match:
            status = int(status_match.group(1)) if status_match else 0
            return _kind_from(status, code_match.group(1) if code_match else ""), None
        if "HTTP error" in text or "timed out" in text or "connection" in text.lower():
            return "transient", None
        return "fatal", None
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        status = int(meta.get("HTTPStatusCode", 0) or 0)
        headers = meta.get("HTTPHeaders", {}) or {}
        code = str(error.get("Code", ""))
        if code == str(status):  # a bodiless answer (HEAD): botocore puts the status where the code would be
            code = ""
        return _kind_from(status, code), parse_retry_after(headers.get("retry-after"))
    # ResponseStreamingError (a body cut short) is an HTTPClientError
    if isinstance(exc, BotoConnectionError | HTTPClientError | IncompleteReadError):
        return "transient", None
    from urllib3.exceptions import HTTPError as Urllib3Error

    if isinstance(exc, Urllib3Error):  # the object reader's GETs: connection failed, timed out, body cut short
        return "transient", None
    if isinstance(exc, BotoCoreError):
        return "fatal", None
    if _is_network_oserror(exc):
        return "transient", None
    return "fatal", None


def _is_network_oserror(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionError | TimeoutError)


def _kind_from(status: int, code: str) -> ErrorKind:
    if 300 <= status < 400:
        return "redirect"
    if code in _AUTH_CODES or status in (401, 403):
        return "auth"
    if status == 400 and not code:
        # HEAD answers carry no body, so an expired token shows only as a bare 400: renew once and retry.
        return "auth"
    if status == 412 or code == "PreconditionFailed":
        return "precondition"
    if status == 404 or code in ("NoSuchKey", "NotFound"):
        return "not_found"
    if status >= 500 or status == 429 or code in _TRANSIENT_CODES:
        return "transient"
    return "fatal"


def describe(exc: BaseException) -> str:
    """A short, credential-free description of a library error."""
    text = str(exc).split("\n\nDebug source:", 1)[0].strip()
    return f"{type(exc).__name__}: {text[:500]}"

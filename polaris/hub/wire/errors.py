"""The one funnel from HTTP answers to typed errors (:mod:`polaris.errors`), shared by every wire module."""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from polaris.errors import (
    ArtifactConflictError,
    ArtifactNotFoundError,
    HubConnectionError,
    HubServerError,
    IncompleteUploadError,
    InvalidRequestError,
    NotAPolarisHubError,
    NotAPolarisHubNotFoundError,
    PolarisCreateArtifactError,
    PolarisHubError,
    PolarisUnauthorizedError,
    RateLimitedError,
)
from polaris.hub._transport import parse_retry_after

__all__ = [
    "MAX_HUB_MESSAGE_CHARS",
    "connection_error",
    "error_for_response",
    "error_for_status",
    "hub_message",
    "is_html_page",
    "looks_like_a_hub_answer",
    "not_a_hub_error",
    "raise_for_response",
]

#: The Hub's message is cut to this many characters in exception text.
MAX_HUB_MESSAGE_CHARS = 1000


def _detail_text(detail: Any) -> str | None:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping) and "msg" in item:
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc) if isinstance(loc, list | tuple) else None
                parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts) if parts else None
    if detail is None:
        return None
    return json.dumps(detail, sort_keys=True)


def hub_message(content: bytes, headers: Mapping[str, str] | None = None) -> str | None:
    """The Hub's own explanation in an error body.

    JSON ``message``, else ``detail``, else ``error_description`` (or ``error``), else the body as text.
    """
    if not content:
        return None
    text = content.decode("utf-8", errors="replace").strip()
    data: Any = None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    message: str | None = None
    if isinstance(data, Mapping):
        for key in ("message", "detail", "error_description", "error"):
            if data.get(key):
                message = data[key] if key != "detail" else _detail_text(data[key])
                if message:
                    break
        if message is None:
            message = json.dumps(data, sort_keys=True)
    elif data is not None:
        message = json.dumps(data)
    else:
        content_type = (headers or {}).get("content-type", "")
        # an HTML error page says nothing useful on one line
        message = None if "html" in content_type.lower() else (text or None)
    if message is not None and not isinstance(message, str):
        message = str(message)
    if message and len(message) > MAX_HUB_MESSAGE_CHARS:
        message = message[:MAX_HUB_MESSAGE_CHARS] + "..."
    return message


def is_html_page(content: bytes, headers: Mapping[str, str] | None) -> bool:
    """True when a body is a web page (HTML content type, or markup): what a web site sends, never the Hub's API."""
    if "html" in (headers or {}).get("content-type", "").lower():
        return True
    return content.lstrip()[:1] == b"<"


def looks_like_a_hub_answer(content: bytes, headers: Mapping[str, str] | None) -> bool:
    """True when a 2xx body could come from the Hub's API: empty, or JSON (not a web page, not other text)."""
    if not content or not content.strip():
        return True
    if is_html_page(content, headers):
        return False
    return _json_or_none(content) is not None or content.strip() == b"null"


def not_a_hub_error(
    status: int | None, headers: Mapping[str, str] | None, *, method: str | None, url: str | None
) -> NotAPolarisHubError:
    """The error for an answer that is not what a Polaris Hub sends (an HTML page, text where JSON belongs).

    It keeps ``status_code``, so the generation fallback (404/405) still works; a 404 is also an
    :class:`~polaris.errors.ArtifactNotFoundError`.
    """
    content_type = ((headers or {}).get("content-type") or "no content type").split(";")[0].strip()
    where = f"{method} {url}" if method and url else "The request"
    message = (
        f"{where}: the server answered ({content_type}) but not as a Polaris Hub does; "
        "this URL does not look like a Polaris Hub API"
    )
    error_class = NotAPolarisHubNotFoundError if status == 404 else NotAPolarisHubError
    return error_class(message, status_code=status, method=method, url=url)


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


def _incomplete_upload(content: bytes) -> tuple[list[str], list[str]] | None:
    """``(missing, mismatched)`` when a 409 body says ``detail.state == "incomplete"``, else ``None``."""
    data = _json_or_none(content)
    detail = data.get("detail") if isinstance(data, dict) else None
    if not isinstance(detail, dict) or detail.get("state") != "incomplete":
        return None

    def keys(name: str) -> list[str]:
        value = detail.get(name)
        return [str(v) for v in value] if isinstance(value, list) else []

    return keys("missing"), keys("mismatched")


def error_for_status(
    status: int,
    content: bytes,
    headers: Mapping[str, str],
    *,
    method: str | None = None,
    url: str | None = None,
) -> PolarisHubError:
    """The typed error for a non-2xx answer (the caller raises it).

    A 404 or 405 whose body is an HTML page did not come from a Hub's API:
    :class:`NotAPolarisHubError` (for a 404 also an :class:`ArtifactNotFoundError`) says so instead of hinting at a
    login.
    """
    if status in (404, 405) and content and is_html_page(content, headers):
        return not_a_hub_error(status, headers, method=method, url=url)
    message = hub_message(content, headers)
    where = f"{method} {url}" if method and url else "The Hub request"
    kwargs: dict[str, Any] = {"status_code": status, "hub_message": message, "method": method, "url": url}
    if status == 401:
        return PolarisUnauthorizedError(f"{where} was refused: not logged in or the login expired", **kwargs)
    if status == 403:
        return PolarisCreateArtifactError(f"{where} was forbidden", **kwargs)
    if status == 404:
        return ArtifactNotFoundError(f"{where}: not found, or you have no access", **kwargs)
    if status == 409:
        incomplete = _incomplete_upload(content)
        if incomplete is not None:
            missing, mismatched = incomplete
            return IncompleteUploadError(
                f"{where}: the artifact's upload is incomplete ({len(missing)} object(s) missing, "
                f"{len(mismatched)} differing)",
                missing=missing,
                mismatched=mismatched,
                body=_json_or_none(content),
                **kwargs,
            )
        return ArtifactConflictError(f"{where} conflicts with the Hub's state", **kwargs)
    if status in (400, 422):
        return InvalidRequestError(f"{where} was rejected as invalid", **kwargs)
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"))
        return RateLimitedError(f"{where} was rate limited", retry_after=retry_after, **kwargs)
    if status >= 500:
        return HubServerError(f"{where} failed on the Hub's side", **kwargs)
    return PolarisHubError(f"{where} failed", **kwargs)


def error_for_response(response: httpx.Response) -> PolarisHubError:
    """The typed error for an httpx response (reads the body if needed)."""
    try:
        content = response.read()
    except httpx.HTTPError:
        content = b""
    try:
        request: httpx.Request | None = response.request
    except RuntimeError:
        request = None
    method = request.method if request is not None else None
    url = str(request.url.copy_with(query=None)) if request is not None else None
    return error_for_status(response.status_code, content, response.headers, method=method, url=url)


def raise_for_response(response: httpx.Response) -> None:
    """Raise the typed error of a non-2xx answer; do nothing on success.

    Raises:
        PolarisUnauthorizedError: 401. PolarisCreateArtifactError: 403. ArtifactNotFoundError: 404.
        ArtifactConflictError: 409 (IncompleteUploadError when the body says the upload is incomplete).
        InvalidRequestError: 400/422. RateLimitedError: 429.
        HubServerError: 5xx. PolarisHubError: any other non-2xx.
    """
    if 200 <= response.status_code < 300:
        return
    raise error_for_response(response)


def connection_error(
    exc: httpx.TransportError | ssl.SSLError, *, method: str | None, url: str | None
) -> HubConnectionError:
    """A :class:`HubConnectionError` for a failure before any answer (no secret is in httpx's text)."""
    text = str(exc) or type(exc).__name__
    is_tls = isinstance(exc, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text
    where = f"{method} {url}" if method and url else "The Hub"
    if is_tls:
        message = f"TLS verification failed when connecting for {where}"
        hint = (
            "The server certificate is not trusted. If you are behind a TLS-inspecting proxy, point "
            "POLARIS_CA_BUNDLE (settings.ca_bundle) at your organisation's CA bundle file."
        )
        return HubConnectionError(message, hub_message=text, method=method, url=url, hint=hint)
    if isinstance(exc, httpx.TimeoutException):
        message = f"Timed out waiting for {where}"
    else:
        message = f"Could not connect for {where}"
    return HubConnectionError(message, hub_message=text, method=method, url=url)
